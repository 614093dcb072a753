/*
 * env_secret: the names of host environment variables that look like
 * secrets (tokens, passwords, keys, cloud credentials, agent sockets).
 * The list is documented in launch(1), "ENVIRONMENT"; names are matched
 * case-insensitively as shell patterns.
 */
#include "config.h"

#include <fnmatch.h>
#include <string.h>

#include "env_secret.h"

static const char *const secret_patterns[] = {
	"*_TOKEN", "*_TOKEN_*", "TOKEN",
	"*SECRET*", "*PASSWORD*", "*PASSWD*", "*PASSPHRASE*", "*_PWD",
	"*_KEY", "*_KEY_ID", "*APIKEY*", "*API_KEY*", "*CREDENTIAL*",
	"AWS_*", "SSH_AUTH_SOCK", "SSH_AGENT_PID", "GPG_AGENT_INFO",
	"KRB5CCNAME", "DOCKER_AUTH_CONFIG", "*_AUTH", "*_AUTH_*",
};

bool
env_secret(const char *entry)
{
	char name[256];
	size_t len = strcspn(entry, "=");
	size_t i;

	if (len >= sizeof(name))
		return false;
	memcpy(name, entry, len);
	name[len] = '\0';
	for (i = 0; i < sizeof(secret_patterns) / sizeof(secret_patterns[0]); i++)
		if (fnmatch(secret_patterns[i], name, FNM_CASEFOLD) == 0)
			return true;
	return false;
}
