"""Call controls from the consoles: one-key transfer to 110/119/120, three-way calls, consulting an expert,
hanging up (AMI actions on the calls the bridge tracks)."""
