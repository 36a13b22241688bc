"""Writers: a prompt or a text in, a Story out."""
