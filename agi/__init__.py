"""FastAGI endpoints: the dialplan asks the controller here (see asterisk-config/)."""
