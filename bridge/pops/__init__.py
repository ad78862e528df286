"""Screen pops: what an agent's console shows when a call rings, is answered and ends (stream `agent:<id>`)."""
