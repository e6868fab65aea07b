/* partition.c - the sorted table of hosted partitions. */
#include <stdlib.h>
#include <string.h>

#include "partition.h"

void partition_table_init(partition_table_t *t)
{
	memset(t, 0, sizeof(*t));
}

void partition_table_destroy(partition_table_t *t)
{
	for (size_t i = 0; i < t->n; i++) {
		leader_epoch_free(t->parts[i]->epochs);
		free(t->parts[i]);
	}
	free(t->parts);
	memset(t, 0, sizeof(*t));
}

static int cmp_key(const char *topic, size_t len, int32_t id, const partition_t *p)
{
	size_t plen = strlen(p->topic);
	int c = memcmp(topic, p->topic, len < plen ? len : plen);

	if (c)
		return c;
	if (len != plen)
		return len < plen ? -1 : 1;
	return id < p->id ? -1 : id > p->id;
}

/* Index of the first entry not below the key. */
static size_t lower_bound(const partition_table_t *t, const char *topic, size_t len, int32_t id)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cmp_key(topic, len, id, t->parts[mid]) > 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

partition_t *partition_findn(const partition_table_t *t, const char *topic, size_t len,
			     int32_t id)
{
	size_t i = lower_bound(t, topic, len, id);

	if (i < t->n && cmp_key(topic, len, id, t->parts[i]) == 0)
		return t->parts[i];
	return NULL;
}

partition_t *partition_find(const partition_table_t *t, const char *topic, int32_t id)
{
	return partition_findn(t, topic, strlen(topic), id);
}

brook_err_t partition_add(partition_table_t *t, const char *topic, int32_t id, log_t *log,
			  log_dir_t *dir, partition_t **out)
{
	size_t len = strlen(topic), i;
	partition_t *p;

	if (len > LOG_TOPIC_MAX)
		return BROOK_ERR_INVALID_TOPIC_EXCEPTION;
	if ((p = partition_find(t, topic, id))) {
		*out = p;
		return BROOK_ERR_NO_ERROR;
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		partition_t **pp = realloc(t->parts, cap * sizeof(*pp));

		if (!pp)
			return BROOK_ERR__NOMEM;
		t->parts = pp;
		t->cap = cap;
	}
	if (!(p = calloc(1, sizeof(*p))))
		return BROOK_ERR__NOMEM;
	memcpy(p->topic, topic, len + 1);
	p->id = id;
	p->log = log;
	p->dir = dir;
	p->high_watermark = log_end_offset(log);
	p->leader_id = -1;
	p->fetch_from = -1;
	p->fetch_epoch = -1;
	p->state_version = -1;
	i = lower_bound(t, topic, len, id);
	memmove(&t->parts[i + 1], &t->parts[i], (t->n - i) * sizeof(*t->parts));
	t->parts[i] = p;
	t->n++;
	*out = p;
	return BROOK_ERR_NO_ERROR;
}

size_t partition_topic_range(const partition_table_t *t, const char *topic, size_t *first)
{
	size_t len = strlen(topic), i = lower_bound(t, topic, len, INT32_MIN), n = 0;

	*first = i;
	while (i + n < t->n && strcmp(t->parts[i + n]->topic, topic) == 0)
		n++;
	return n;
}

void partition_remove(partition_table_t *t, partition_t *p)
{
	size_t i = lower_bound(t, p->topic, strlen(p->topic), p->id);

	if (i < t->n && t->parts[i] == p) {
		memmove(&t->parts[i], &t->parts[i + 1], (t->n - i - 1) * sizeof(*t->parts));
		t->n--;
		leader_epoch_free(p->epochs);
		free(p);
	}
}
