"""The consortium's governance as its operators use it: deploy, propose, approve, relay."""
