"""The coordinator: durable submission, the tick loop (snapshot → cycle → commit → act),
executor reports, recovery after a restart."""
