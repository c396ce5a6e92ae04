/*
 * config_int.h - what config.c (the loader and its checks) and
 * config_params.c (the parameter table, and what prints and documents it)
 * share.  Nothing outside common/config*.c includes it.
 */
#ifndef REBOUND_CONFIG_INT_H
#define REBOUND_CONFIG_INT_H

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"

/* CFG_PATH: a CFG_STR naming a file or directory; relative to the config file's directory. */
enum cfg_type { CFG_STR, CFG_INT, CFG_BOOL, CFG_LIST, CFG_PATH };

struct cfg_param {
	const char *section;
	const char *key;
	enum cfg_type type;
	const char *def;		/* default, in file syntax; NULL = unset */
	int64_t min, max;		/* CFG_INT only */
	const char *choices;		/* CFG_STR: "a|b|c" allowed values, or NULL */
	size_t offset;
	const char *help;
};

/* Every parameter, in the order config_print() writes them. */
extern const struct cfg_param cfg_params[];
extern const size_t cfg_nparams;

/* The field p describes in cfg, as a T *. */
#define FIELD(cfg, p, T) ((T *)(void *)((char *)(cfg) + (p)->offset))

/* The parameter [section] key, or NULL. */
const struct cfg_param *config_find(const char *section, const char *key);
/* 1 when some parameter lives in [section]. */
int config_section_known(const char *section);

#endif
