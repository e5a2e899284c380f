"""The notifier: case events out to subscribed apps (webhooks) and to the reporter (e-mail),
and the feedback link back in (docs/DESIGN.md §12, docs/NOTIFY.md)."""
