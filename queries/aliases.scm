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
