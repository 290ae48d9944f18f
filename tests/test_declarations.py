"""Reading what data declarations say: guarded data, declared order, recursive
lock types and method tables (`lockls.syntax.declarations`)."""

from __future__ import annotations

from lockls.syntax import nodes as syntax
from lockls.config import GuardedData, LockPattern
from lockls.syntax.declarations import data_annotations, recursive_lock_patterns, table_entry_points


def _root(source: bytes):
    return syntax.new_parser().parse(source).root_node


def annotations(text: str, macros=None):
    source = text.encode()
    return data_annotations(_root(source), source, macros)


def test_guarded_fields_and_globals_in_every_spelling():
    guarded, order = annotations("""
#define GUARDED_BY(x) __attribute__((guarded_by(x)))
#define PT_GUARDED_BY(x) __attribute__((pt_guarded_by(x)))
struct s {
    pthread_mutex_t mu;
    long a GUARDED_BY(mu);
    int *b PT_GUARDED_BY(mu);
    char c[16] __attribute__((guarded_by(mu)));
    struct list_head d __guarded_by(&mu);
    void **e __pt_guarded_by(&mu);
    int f GUARDED_BY(big_lock);   /* not a sibling: a global lock */
    int g;
};
static int h __guarded_by(&h_lock) = 0;
int i GUARDED_BY(i_mu), j;
""")
    s_ = "struct s"
    assert guarded == (
        GuardedData(everywhere=True, field="a", by="mu", owner=s_), GuardedData(everywhere=True, field="b", by="mu", pointee=True, owner=s_),
        GuardedData(everywhere=True, field="c", by="mu", owner=s_), GuardedData(everywhere=True, field="d", by="mu", owner=s_),
        GuardedData(everywhere=True, field="e", by="mu", pointee=True, owner=s_), GuardedData(everywhere=True, field="f", by="=big_lock", owner=s_),
        GuardedData(everywhere=True, variable="h", by="=h_lock"), GuardedData(everywhere=True, variable="i", by="=i_mu"),
    )
    assert order == ()


def test_annotations_in_comments_strings_macros_and_bodies_are_not_declarations():
    guarded, order = annotations("""
/* int x GUARDED_BY(mu); */
#define DECLARE_GUARDED(t, n) t n __guarded_by(&lock)
const char *doc = "int y __guarded_by(&lock);";
void f(void)
{
    int local __guarded_by(&lock);
}
""")
    assert guarded == () and order == ()


def test_project_macros_and_order():
    guarded, order = annotations("""
struct table { struct ovs_mutex mutex; int n OVS_GUARDED_BY(mutex); };
static struct ovs_mutex a OVS_ACQ_BEFORE(b, c);
static struct ovs_mutex d OVS_ACQ_AFTER(c);
struct pair { pthread_mutex_t first ACQUIRED_BEFORE(second); pthread_mutex_t second; };
""", {"OVS_GUARDED_BY": "guarded-by", "OVS_ACQ_BEFORE": "acquired-before", "OVS_ACQ_AFTER": "acquired-after",
      "ACQUIRED_BEFORE": "acquired-before", "OVS_REQUIRES": "requires"})
    assert guarded == (GuardedData(everywhere=True, field="n", by="mutex", owner="struct table"),)
    assert order == (("a", "b", None), ("a", "c", None), ("c", "d", None), ("*->first", "*->second", None))


def test_method_tables():
    source = b"""
static const struct file_operations fops = {
    .owner = THIS_MODULE,
    .open = demo_open,
    .release = &demo_release,
};
static virHypervisorDriver drv = { .connectOpen = qemuConnectOpen };
static const struct cmd cmds[] = {
    { "start", cmd_start },
    { .name = "stop", .fn = cmd_stop },
};
static struct other_ops not_listed = { .run = not_an_entry };
"""
    assert table_entry_points(source, ("struct file_operations", "virHypervisorDriver", "struct  cmd")) == (
        "THIS_MODULE", "cmd_start", "cmd_stop", "demo_open", "demo_release", "qemuConnectOpen")
    assert table_entry_points(source, ()) == ()


def test_reentrant_types():
    source = b"""
#define REENTRANT __attribute__((reentrant_capability))
typedef struct __attribute__((capability("mutex"), reentrant_capability)) rmutex { int o; } rmutex_t;
struct REENTRANT nmutex { int o; };
struct plain { int o; };
rmutex_t g;
struct nmutex n2;
struct plain p;
struct holder { rmutex_t lock; };
"""
    assert recursive_lock_patterns(_root(source), source) == (
        LockPattern("g", recursive=True), LockPattern("n2", recursive=True), LockPattern("*->lock", recursive=True))


def test_pathological_declarations_stay_linear():
    """Inputs that once made a regex backtrack exponentially (a long capital word
    after `struct`) or climbed thousands of parents: they complete (a hang here
    would time the suite out) and find what is there."""
    long_word = b"/* reentrant_capability */\nstruct " + b"A" * 5000 + b" x;\n"
    assert recursive_lock_patterns(_root(long_word), long_word) == ()
    deep = (b"typedef struct __attribute__((reentrant_capability)) rm { int o; } rm_t;\nrm_t "
            + b"* " * 20000 + b"x;\n")
    assert recursive_lock_patterns(_root(deep), deep) == (LockPattern("x", recursive=True),)
    nested = b"struct s { " * 3000 + b"int a GUARDED_BY(mu);" + b"};" * 3000
    guarded, _ = data_annotations(_root(nested), nested)
    assert [g.field or g.variable for g in guarded] == ["a"]


def test_a_function_is_located_at_its_annotated_declaration_else_its_definition_never_in_a_comment():
    from lockls.syntax.declarations import locate
    from lockls.syntax.nodes import outside_bodies

    source = (b"/* see audit(a) takes it */\n"
              b"void audit(struct acct *a)\n{\n    lock(&a->mu); /* audit(x) */\n    unlock(&a->mu);\n}\n"
              b"void close_(struct acct *a)\n{\n    audit(a);\n}\n")
    at = source.index(b"void audit") + len(b"void ")
    assert locate(source, "function", "audit") == (at, at + len(b"audit"))
    annotated = source + b"void audit(struct acct *a) EXCLUDES(a->mu);\n"
    at = annotated.rindex(b"audit(")
    assert locate(annotated, "function", "audit") == (at, at + len(b"audit"))
    # in the text outside bodies, a definition's body is a NUL byte: the same answer
    tree = syntax.new_parser().parse(source)
    from lockls.engine.function import function_nodes

    outside = outside_bodies(source, function_nodes(tree.root_node))
    found = locate(outside.text, "function", "audit")
    assert (outside.in_file(found[0]), outside.in_file(found[1])) == locate(source, "function", "audit")
