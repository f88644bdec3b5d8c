"""One module per runtime's allocation rules: what each runtime allocates, and where."""
