/*
 * fuzz_signing.c - libFuzzer target: any bytes as a RCPT address through
 * signing_verify() and signing_decode(), and as an address to sign, must
 * neither crash nor leak; whatever signing_sign() makes must verify.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>

#include "common/signing.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct signing_keys *k;
	char *s, *orig = NULL, *err = NULL, *signed_path;

	if (k == NULL) {
		char *verify[] = { "base64:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", NULL };
		k = signing_keys_new("hex:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
		    verify, 30, &err);
		if (k == NULL)
			abort();
	}
	s = g_strndup((const char *)data, size);
	(void)signing_verify(k, s, 20421, &orig);
	g_free(orig);
	g_free(signing_decode(s));
	signed_path = signing_sign(k, s, "bounces.example.com", 20421, &err);
	if (signed_path != NULL) {
		if (signing_verify(k, signed_path, 20421, NULL) != SIGNING_OK)
			abort();
		g_free(signed_path);
	} else
		g_free(err);
	g_free(s);
	return 0;
}
