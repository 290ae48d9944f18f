"""lockls: finds lock bugs in C, as a language server and as a CI checker.

The analysis pipeline (syntax -> events -> CFG -> dataflow -> rules) lives in
modules that know nothing of LSP or of output formats; front-ends (`cli`, `check`,
`formats`, and the language server) render its findings.
"""

__version__ = "0.1.0"
