"""The read model: every read the JSON API and the pages show, written once.

Both :mod:`portside.api` and :mod:`portside.ui` call these functions and shape their typed
results (JSON or HTML), so the two can never disagree. Lists are paged by key (an opaque
cursor, :mod:`.paging`), never by a growing OFFSET past the first pages; counts over large
tables are estimated on PostgreSQL and say so (:mod:`.counting`).

- :mod:`.overview`: the counts, findings by severity, the task states and the queues.
- :mod:`.repositories`: the repository list, one repository and its tags.
- :mod:`.tags`: one tag, its scan, the names a deletion needs.
- :mod:`.history`: the activity timeline and the registry events.
- :mod:`.visible`: what the request's principal may see, as the SQL conditions every read
  adds (a repository, tag or scan it may not see is not found).
"""
