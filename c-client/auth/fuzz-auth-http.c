/* fuzz-auth-http.c - libFuzzer harness: nginx's auth_http request
 * parser (the whole input, and the prefix the reader would have given it
 * first), PROXY protocol v1/v2 headers and route map lines. The first
 * byte picks which parser gets the rest. */
#include <stdlib.h>
#include <string.h>

#include "auth-http.h"
#include "proxy-protocol.h"
#include "route-map.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct auth_http_request req;
	struct proxy_info pi;
	struct route r;
	const char *error;
	char *copy, *user;

	if (size == 0)
		return 0;
	switch (data[0] % 3) {
	case 0:
		/* an exact-size copy so ASan sees any read past the end */
		copy = malloc(size - 1 ? size - 1 : 1);
		memcpy(copy, data + 1, size - 1);
		for (size_t k = size - 1; ; k = k / 2) {
			if (auth_http_parse(copy, k, &req, &error) > 0)
				auth_http_request_free(&req);
			if (k == 0)
				break;
		}
		free(copy);
		break;
	case 1:
		copy = malloc(size - 1 ? size - 1 : 1);
		memcpy(copy, data + 1, size - 1);
		(void)proxy_parse((const unsigned char *)copy, size - 1, &pi,
				  &error);
		free(copy);
		break;
	default:
		copy = xstrndup((const char *)data + 1, size - 1);
		if (route_parse_line(copy, &user, &r, &error) > 0)
			free(user);
		free(copy);
		break;
	}
	return 0;
}
