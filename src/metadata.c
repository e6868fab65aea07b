/* metadata.c - the broker's cached cluster view (see metadata.h). */
#include <stdlib.h>
#include <string.h>

#include "metadata.h"

metadata_t *metadata_new(void)
{
	metadata_t *md = calloc(1, sizeof(*md));

	if (md)
		md->controller_id = -1;
	return md;
}

static void partition_destroy(md_partition_t *p)
{
	free(p->replicas);
	free(p->isr);
}

static void topic_free(md_topic_t *t)
{
	if (!t)
		return;
	for (int32_t i = 0; i < t->npartitions; i++)
		partition_destroy(&t->partitions[i]);
	free(t->partitions);
	zk_topic_config_free(t->config);
	free(t);
}

void metadata_free(metadata_t *md)
{
	if (!md)
		return;
	for (size_t i = 0; i < md->ntopics; i++)
		topic_free(md->topics[i]);
	free(md->topics);
	free(md->brokers);
	free(md);
}

/* --- lookups ------------------------------------------------------------ */

/* Index of `name`, or -(insertion point) - 1. */
static long topic_index(const metadata_t *md, const char *name)
{
	size_t lo = 0, hi = md->ntopics;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(md->topics[mid]->name, name);

		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -(long)lo - 1;
}

static long broker_index(const metadata_t *md, int32_t id)
{
	size_t lo = 0, hi = md->nbrokers;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (md->brokers[mid].id == id)
			return (long)mid;
		if (md->brokers[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -(long)lo - 1;
}

const md_topic_t *metadata_topic(const metadata_t *md, const char *name)
{
	long i;

	if (!md || !name)
		return NULL;
	i = topic_index(md, name);
	return i >= 0 ? md->topics[i] : NULL;
}

const md_partition_t *metadata_partition(const metadata_t *md, const char *topic,
					 int32_t partition)
{
	const md_topic_t *t = metadata_topic(md, topic);

	if (!t || partition < 0 || partition >= t->npartitions)
		return NULL;
	return &t->partitions[partition];
}

const md_broker_t *metadata_broker(const metadata_t *md, int32_t id)
{
	long i;

	if (!md)
		return NULL;
	i = broker_index(md, id);
	return i >= 0 ? &md->brokers[i] : NULL;
}

int metadata_broker_alive(const metadata_t *md, int32_t id)
{
	return metadata_broker(md, id) != NULL;
}

int32_t metadata_effective_leader(const metadata_t *md, const md_topic_t *t,
				  const md_partition_t *p)
{
	(void)t; /* per-topic unclean.leader.election.enable will look here */
	if (!md || !p)
		return -1;
	if (p->has_state)
		return p->leader >= 0 && metadata_broker_alive(md, p->leader) ? p->leader : -1;
	for (int32_t i = 0; i < p->nreplicas; i++)
		if (metadata_broker_alive(md, p->replicas[i]))
			return p->replicas[i];
	return -1;
}

/* --- cluster id, controller ---------------------------------------------- */

brook_err_t metadata_set_cluster_id(metadata_t *md, const char *id)
{
	if (!id || strlen(id) >= sizeof(md->cluster_id))
		return BROOK_ERR__INVALID_ARG;
	memcpy(md->cluster_id, id, strlen(id) + 1);
	return BROOK_ERR_NO_ERROR;
}

int metadata_set_controller(metadata_t *md, int32_t id)
{
	if (id < 0)
		id = -1;
	if (md->controller_id == id)
		return 0;
	md->controller_id = id;
	return 1;
}

/* --- brokers ------------------------------------------------------------- */

static int broker_cmp(const void *a, const void *b)
{
	const md_broker_t *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static int broker_equal(const md_broker_t *a, const md_broker_t *b)
{
	return a->id == b->id && a->port == b->port && a->has_rack == b->has_rack &&
	       strcmp(a->host, b->host) == 0 && (!a->has_rack || strcmp(a->rack, b->rack) == 0);
}

/* Copies a broker with its strings terminated, whatever the caller left
 * after the NUL. */
static void broker_copy(md_broker_t *dst, const md_broker_t *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->id = src->id;
	dst->port = src->port;
	dst->has_rack = src->has_rack;
	memcpy(dst->host, src->host, sizeof(dst->host) - 1);
	if (src->has_rack)
		memcpy(dst->rack, src->rack, sizeof(dst->rack) - 1);
}

brook_err_t metadata_set_brokers(metadata_t *md, const md_broker_t *brokers, size_t n,
				 int *changed)
{
	md_broker_t *nb = NULL;
	int diff;

	if (changed)
		*changed = 0;
	if (n && !brokers)
		return BROOK_ERR__INVALID_ARG;
	if (n) {
		if (!(nb = calloc(n, sizeof(*nb))))
			return BROOK_ERR__NOMEM;
		for (size_t i = 0; i < n; i++)
			broker_copy(&nb[i], &brokers[i]);
		qsort(nb, n, sizeof(*nb), broker_cmp);
		for (size_t i = 1; i < n; i++) {
			if (nb[i].id == nb[i - 1].id) {
				free(nb);
				return BROOK_ERR__INVALID_ARG;
			}
		}
	}
	diff = n != md->nbrokers;
	for (size_t i = 0; !diff && i < n; i++)
		diff = !broker_equal(&nb[i], &md->brokers[i]);
	free(md->brokers);
	md->brokers = nb;
	md->nbrokers = n;
	if (changed)
		*changed = diff;
	return BROOK_ERR_NO_ERROR;
}

brook_err_t metadata_set_broker(metadata_t *md, const md_broker_t *b, int *changed)
{
	long i = broker_index(md, b->id);
	md_broker_t copy, *nb;
	size_t at;

	if (changed)
		*changed = 0;
	broker_copy(&copy, b);
	if (i >= 0) {
		if (!broker_equal(&md->brokers[i], &copy)) {
			md->brokers[i] = copy;
			if (changed)
				*changed = 1;
		}
		return BROOK_ERR_NO_ERROR;
	}
	at = (size_t)(-i - 1);
	nb = realloc(md->brokers, (md->nbrokers + 1) * sizeof(*nb));
	if (!nb)
		return BROOK_ERR__NOMEM;
	memmove(&nb[at + 1], &nb[at], (md->nbrokers - at) * sizeof(*nb));
	nb[at] = copy;
	md->brokers = nb;
	md->nbrokers++;
	if (changed)
		*changed = 1;
	return BROOK_ERR_NO_ERROR;
}

int metadata_remove_broker(metadata_t *md, int32_t id)
{
	long i = broker_index(md, id);

	if (i < 0)
		return 0;
	memmove(&md->brokers[i], &md->brokers[i + 1],
		(md->nbrokers - (size_t)i - 1) * sizeof(*md->brokers));
	md->nbrokers--;
	if (md->nbrokers == 0) {
		free(md->brokers);
		md->brokers = NULL;
	}
	return 1;
}

/* --- topics -------------------------------------------------------------- */

static int ids_equal(const int32_t *a, int32_t na, const int32_t *b, int32_t nb)
{
	return na == nb && (na == 0 || memcmp(a, b, (size_t)na * sizeof(*a)) == 0);
}

/* malloc'd copy of n ids; *out stays NULL for n == 0. */
static brook_err_t ids_dup(const int32_t *ids, int32_t n, int32_t **out)
{
	*out = NULL;
	if (n <= 0)
		return BROOK_ERR_NO_ERROR;
	if (!(*out = malloc((size_t)n * sizeof(**out))))
		return BROOK_ERR__NOMEM;
	memcpy(*out, ids, (size_t)n * sizeof(**out));
	return BROOK_ERR_NO_ERROR;
}

brook_err_t metadata_set_topic(metadata_t *md, const char *name, const zk_topic_assignment_t *a,
			       int *changed)
{
	long i;
	md_topic_t *old, *t;
	int diff;

	if (changed)
		*changed = 0;
	if (!name || !a || strlen(name) >= sizeof(t->name) || a->partition_cnt < 0 ||
	    (a->partition_cnt && !a->partitions))
		return BROOK_ERR__INVALID_ARG;
	i = topic_index(md, name);
	old = i >= 0 ? md->topics[i] : NULL;

	/* Build the new topic completely before touching the old one, so an
	 * allocation failure leaves the view as it was. */
	if (!(t = calloc(1, sizeof(*t))))
		return BROOK_ERR__NOMEM;
	memcpy(t->name, name, strlen(name) + 1);
	if (a->partition_cnt &&
	    !(t->partitions = calloc((size_t)a->partition_cnt, sizeof(*t->partitions)))) {
		free(t);
		return BROOK_ERR__NOMEM;
	}
	t->npartitions = a->partition_cnt;
	diff = !old || old->npartitions != t->npartitions;
	for (int32_t p = 0; p < t->npartitions; p++) {
		md_partition_t *np = &t->partitions[p];
		const zk_replica_list_t *rl = &a->partitions[p];
		const md_partition_t *op = old && p < old->npartitions ? &old->partitions[p] : NULL;

		np->id = p;
		np->leader = -1;
		if (ids_dup(rl->ids, rl->cnt, &np->replicas)) {
			topic_free(t);
			return BROOK_ERR__NOMEM;
		}
		np->nreplicas = rl->cnt > 0 ? rl->cnt : 0;
		if (op && op->has_state) {
			if (ids_dup(op->isr, op->nisr, &np->isr)) {
				topic_free(t);
				return BROOK_ERR__NOMEM;
			}
			np->nisr = op->nisr;
			np->has_state = 1;
			np->leader = op->leader;
			np->leader_epoch = op->leader_epoch;
			np->controller_epoch = op->controller_epoch;
			np->state_version = op->state_version;
		}
		if (op && !ids_equal(op->replicas, op->nreplicas, np->replicas, np->nreplicas))
			diff = 1;
	}
	if (old) {
		/* The overrides come from their own znode: they move over. */
		t->config = old->config;
		t->config_known = old->config_known;
		t->config_seq = old->config_seq;
		old->config = NULL;
		md->topics[i] = t;
		topic_free(old);
	} else {
		size_t at = (size_t)(-i - 1);
		md_topic_t **nt = realloc(md->topics, (md->ntopics + 1) * sizeof(*nt));

		if (!nt) {
			topic_free(t);
			return BROOK_ERR__NOMEM;
		}
		memmove(&nt[at + 1], &nt[at], (md->ntopics - at) * sizeof(*nt));
		nt[at] = t;
		md->topics = nt;
		md->ntopics++;
		/* A topic deleted and created again under the same name gets a
		 * stamp its predecessor never had, so nobody mistakes the old
		 * overrides for the new topic's. */
		t->config_seq = ++md->config_seq;
	}
	if (changed)
		*changed = diff;
	return BROOK_ERR_NO_ERROR;
}

int metadata_remove_topic(metadata_t *md, const char *name)
{
	long i = name ? topic_index(md, name) : -1;

	if (i < 0)
		return 0;
	topic_free(md->topics[i]);
	memmove(&md->topics[i], &md->topics[i + 1],
		(md->ntopics - (size_t)i - 1) * sizeof(*md->topics));
	md->ntopics--;
	if (md->ntopics == 0) {
		free(md->topics);
		md->topics = NULL;
	}
	return 1;
}

/* --- topic configs ------------------------------------------------------- */

static size_t config_count(const zk_topic_config_t *c)
{
	return c ? c->cnt : 0;
}

/* Same names with the same values; names are unique within a config, so
 * equal counts and every entry of a found in b is enough. */
static int config_equal(const zk_topic_config_t *a, const zk_topic_config_t *b)
{
	if (config_count(a) != config_count(b))
		return 0;
	for (size_t i = 0; i < config_count(a); i++) {
		const char *v = zk_topic_config_get(b, a->entries[i].name);

		if (!v || strcmp(v, a->entries[i].value) != 0)
			return 0;
	}
	return 1;
}

static brook_err_t config_dup(const zk_topic_config_t *c, zk_topic_config_t **out)
{
	zk_topic_config_t *copy;
	brook_err_t err;

	*out = NULL;
	if (config_count(c) == 0)
		return BROOK_ERR_NO_ERROR;   /* no overrides: NULL, one shape for "none" */
	if (!(copy = zk_topic_config_new()))
		return BROOK_ERR__NOMEM;
	copy->version = c->version;
	for (size_t i = 0; i < c->cnt; i++) {
		if ((err = zk_topic_config_set(copy, c->entries[i].name, c->entries[i].value))) {
			zk_topic_config_free(copy);
			return err;
		}
	}
	*out = copy;
	return BROOK_ERR_NO_ERROR;
}

brook_err_t metadata_set_topic_config(metadata_t *md, const char *name,
				      const zk_topic_config_t *config, int *changed)
{
	long i = name ? topic_index(md, name) : -1;
	zk_topic_config_t *copy;
	md_topic_t *t;
	brook_err_t err;

	if (changed)
		*changed = 0;
	if (i < 0)
		return BROOK_ERR__NOENT;
	t = md->topics[i];
	if (t->config_known && config_equal(t->config, config))
		return BROOK_ERR_NO_ERROR;
	if ((err = config_dup(config, &copy)))
		return err;
	zk_topic_config_free(t->config);
	t->config = copy;
	t->config_known = 1;
	t->config_seq = ++md->config_seq;
	if (changed)
		*changed = 1;
	return BROOK_ERR_NO_ERROR;
}

static md_partition_t *partition_mut(metadata_t *md, const char *topic, int32_t partition)
{
	long i = topic ? topic_index(md, topic) : -1;
	md_topic_t *t;

	if (i < 0)
		return NULL;
	t = md->topics[i];
	if (partition < 0 || partition >= t->npartitions)
		return NULL;
	return &t->partitions[partition];
}

brook_err_t metadata_set_partition_state(metadata_t *md, const char *topic, int32_t partition,
					 const zk_partition_state_t *st, int32_t zk_version,
					 int *changed)
{
	md_partition_t *p = partition_mut(md, topic, partition);
	int32_t *isr;
	int32_t nisr;

	if (changed)
		*changed = 0;
	if (!p)
		return BROOK_ERR__NOENT;
	if (!st || st->isr_cnt < 0 || st->isr_cnt > ZK_MAX_REPLICAS)
		return BROOK_ERR__INVALID_ARG;
	nisr = st->isr_cnt;
	if (p->has_state && p->leader == st->leader && p->leader_epoch == st->leader_epoch &&
	    p->controller_epoch == st->controller_epoch && p->state_version == zk_version &&
	    ids_equal(p->isr, p->nisr, st->isr, nisr))
		return BROOK_ERR_NO_ERROR;
	if (ids_dup(st->isr, nisr, &isr))
		return BROOK_ERR__NOMEM;
	free(p->isr);
	p->isr = isr;
	p->nisr = nisr;
	p->has_state = 1;
	p->leader = st->leader < 0 ? -1 : st->leader;
	p->leader_epoch = st->leader_epoch;
	p->controller_epoch = st->controller_epoch;
	p->state_version = zk_version;
	if (changed)
		*changed = 1;
	return BROOK_ERR_NO_ERROR;
}

int metadata_clear_partition_state(metadata_t *md, const char *topic, int32_t partition)
{
	md_partition_t *p = partition_mut(md, topic, partition);

	if (!p || !p->has_state)
		return 0;
	free(p->isr);
	p->isr = NULL;
	p->nisr = 0;
	p->has_state = 0;
	p->leader = -1;
	p->leader_epoch = p->controller_epoch = p->state_version = 0;
	return 1;
}
