"""The language server: pygls wiring (`server`), the session and its documents, the workspace index, one module a feature."""
