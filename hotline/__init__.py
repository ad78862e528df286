"""Shared core of the 12345 hotline platform: settings, storage, the Asterisk protocol layer and the event bus."""
