"""One module per ComponentResource; pure helpers (layouts, documents, scripts) beside them."""
