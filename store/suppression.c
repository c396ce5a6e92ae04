/* suppression.c - checks of a manual suppression; see suppression.h. */
#include "store/suppression.h"

#include <string.h>
#include <glib.h>

#include "common/address.h"

int
suppression_address(const char *address, char **norm, char **key)
{
	char *n = address_normalise(address), *k = NULL;

	if (n == NULL || strlen(n) > SUPPRESSION_MAX_ADDRESS ||
	    (k = address_key(address)) == NULL) {
		g_free(n);
		*key = NULL;
		if (norm != NULL)
			*norm = NULL;
		return -1;
	}
	*key = k;
	if (norm != NULL)
		*norm = n;
	else
		g_free(n);
	return 0;
}

int
suppression_class_valid(const char *cls)
{
	return cls != NULL && (strcmp(cls, "hard") == 0 || strcmp(cls, "soft") == 0 ||
	    strcmp(cls, "complaint") == 0 || strcmp(cls, "manual") == 0);
}
