; The names of a function's parameters (`q` in `void f(struct queue *q)`).
(parameter_declaration declarator: (identifier) @name)
(parameter_declaration declarator: (pointer_declarator declarator: (identifier) @name))
(parameter_declaration declarator: (pointer_declarator declarator: (pointer_declarator declarator: (identifier) @name)))
(parameter_declaration declarator: (array_declarator declarator: (identifier) @name))
