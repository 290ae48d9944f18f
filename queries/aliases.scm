; Local pointers that may alias a lock: `pthread_mutex_t *l = &q->lock;`
; and `l = &q->lock;`. The analysis keeps an alias only when the name is
; assigned exactly once in the function.
(init_declarator
  declarator: (pointer_declarator declarator: (identifier) @name)
  value: (_) @value)

(init_declarator
  declarator: (identifier) @name
  value: (_) @value)

(assignment_expression
  left: (identifier) @name
  right: (_) @value)

; Any other assignment: `*lockp = next;` or `p->obj = o;` changes what an alias read
; (`zl = *zlpp;` in a loop that moves `*zlpp` on is no fixed alias).
(assignment_expression
  left: [(pointer_expression) (field_expression) (subscript_expression)] @target)
