"""The warm worker's side in the project's interpreter: `server` (serving jobs), `preload` (what may be
imported before forking), `fork` (the job and step processes it forks)."""
