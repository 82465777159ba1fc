"""Who may call, what they may read, and what a request may cost, decided before
any upstream call: client authentication, scopes, limits, persisted queries."""
