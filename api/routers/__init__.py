"""One router per user group: admin, rights holders, people (cameos), platforms, and the public log."""
