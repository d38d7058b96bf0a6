"""The context stage: what of the workspace goes into a prompt, and why."""
