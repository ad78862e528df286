"""Asterisk Manager Interface: frame codec, typed events and the client wrapper around panoramisk."""
