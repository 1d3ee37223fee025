"""HTML routes: the chat, History and the photo files they show."""
