; Every function definition in a file, wherever the parser put it: at top level,
; inside an ERROR node (a prototype followed by an annotation macro), or nested in
; another function's body when an unclosed brace swallowed it while typing.
(function_definition
  body: (compound_statement) @body) @function
