#!/usr/bin/env python3
"""Print a policy of about SIZE KiB (default 960): classes of four globs
each, none shadowing another, for timing `balancerd --check` on the
largest policy a file may be (1 MiB):

    fuzz/gen-big-policy.py > /tmp/big.json
    time build/balancerd --check /tmp/big.json
"""
import json
import sys

size = int(sys.argv[1]) if len(sys.argv) > 1 else 960
classes = []
doc = {"classes": classes}
while len(json.dumps(doc)) < size * 1024:
    i = len(classes)
    classes.append({"name": "c%d" % i,
                    "match": ["tenant-%06d-vm-%d*" % (i, k) for k in range(4)]})
print(json.dumps(doc))
