"""Getting audio in: uploads, recordings, links; probing; encrypted staging."""
