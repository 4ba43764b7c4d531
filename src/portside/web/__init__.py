"""What the JSON API (:mod:`portside.api`) and the pages (:mod:`portside.ui`) share: the
request's services and read session (:mod:`.deps`) and who may read or change
(:mod:`.access`). The application itself is composed above both, in :mod:`portside.app`."""
