"""Three-way calls: citizen, agent and expert in one ConfBridge room `3w-<call_id>`."""
