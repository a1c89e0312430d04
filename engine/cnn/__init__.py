"""Part 2-cd: the lab CNN, its device-resident data pipeline and its summary."""
