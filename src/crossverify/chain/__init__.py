"""Talking to an EVM chain: the connection and its clock, the registry contract, EIP-712 typed data, the
records the registry returns, and the compiler that produced the committed artifacts."""
