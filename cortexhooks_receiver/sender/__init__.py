"""Reference sender."""
