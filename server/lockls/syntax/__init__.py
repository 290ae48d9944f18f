"""Tree-sitter and what the source says outside function bodies: nodes and queries, annotations, declarations, suppression comments."""
