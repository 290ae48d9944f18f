; Names a function body declares (its locals). A lock reached through a local
; is not visible to callers; one reached through a parameter or a global is.
(declaration declarator: (identifier) @name)
(declaration declarator: (pointer_declarator declarator: (identifier) @name))
(declaration declarator: (array_declarator declarator: (identifier) @name))
(declaration declarator: (init_declarator declarator: (identifier) @name))
(declaration declarator: (init_declarator declarator: (pointer_declarator declarator: (identifier) @name)))
(declaration declarator: (init_declarator declarator: (array_declarator declarator: (identifier) @name)))
