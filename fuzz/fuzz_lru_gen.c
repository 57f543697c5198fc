// SPDX-License-Identifier: GPL-2.0
/* lru_gen_parse(): /sys/kernel/debug/lru_gen as the kernel writes it, or
 * anything else; and the sums the MGLRU source takes of what it parsed. */
#include <stdlib.h>

#include "fuzz.h"
#include "lru_gen.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int visit(const struct lru_gen_memcg *m, void *userdata)
{
	uint64_t *sum = userdata, seq;

	lru_gen_path_is(m->path, "machine.slice/vm1");
	for (size_t i = 0; i < m->n_nodes; i++) {
		*sum += lru_gen_node_old_pages(&m->nodes[i], 20000, true, &seq);
		*sum += lru_gen_node_max_seq(&m->nodes[i]) + seq;
		*sum += lru_gen_node_youngest_age(&m->nodes[i]);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct lru_gen_memcg scratch;
	char *text = fuzz_string(data, size);
	uint64_t sum = 0;

	lru_gen_parse(text, &scratch, visit, &sum);
	free(text);
	return 0;
}
