"""What every backend and the daemon share about the inbox: claims, the hand-in, the
ledger's files and the inputs that wait."""
