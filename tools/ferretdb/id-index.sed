# FerretDB 1.24.2 (SQLite backend) looks documents up by `_id` with the
# expression _ferretdb_sjson->'$._id' but creates the `_id` index on
# _ferretdb_sjson->"_id". SQLite only uses an expression index for the same
# expression, so every lookup, update and delete by `_id` scans the table.
# This makes the lookup expression the index's (same value: `->` returns JSON
# text either way). Applied by scripts/mongo-server.sh to a copy of the
# module that `go build -modfile` substitutes for it.
s|IDColumn = DefaultColumn + "->'\$\._id'"|IDColumn = DefaultColumn + "->\\"_id\\""|
