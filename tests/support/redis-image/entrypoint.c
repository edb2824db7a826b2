/*
 * Minimal stand-in for the official redis image's docker-entrypoint.sh, for a
 * FROM-scratch test image that has no shell. Build: gcc -static -O2.
 *
 * Behaviour (the parts of the official script that matter for tests):
 *   - no arguments                      -> run `redis-server`
 *   - argv[1] starts with '-' or ends in ".conf"
 *                                       -> prepend `redis-server`
 *   - command is redis-server and no argument ends in ".conf"
 *                                       -> append `--protected-mode no`
 *     (otherwise connections through a published port are DENIED because
 *     they do not come from loopback inside the container)
 *   - execv the command, looked up on a fixed PATH when it has no '/'.
 *
 * Unlike the official script it does not drop privileges to a `redis` user:
 * the image has no user database and runs as root.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const search_path[] = {"/usr/local/bin", "/usr/bin", "/bin", NULL};

static int ends_with(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

static const char *base_name(const char *s)
{
    const char *slash = strrchr(s, '/');
    return slash ? slash + 1 : s;
}

int main(int argc, char **argv)
{
    /* room for: "redis-server" + original args + "--protected-mode" "no" + NULL */
    char **args = calloc((size_t)argc + 4, sizeof(char *));
    int n = 0, i;

    if (args == NULL) {
        perror("docker-entrypoint: calloc");
        return 126;
    }

    if (argc < 2 || argv[1][0] == '-' || ends_with(argv[1], ".conf"))
        args[n++] = "redis-server";
    for (i = 1; i < argc; i++)
        args[n++] = argv[i];

    if (strcmp(base_name(args[0]), "redis-server") == 0) {
        int has_conf = 0;
        for (i = 1; i < n; i++)
            if (ends_with(args[i], ".conf"))
                has_conf = 1;
        if (!has_conf) {
            args[n++] = "--protected-mode";
            args[n++] = "no";
        }
    }
    args[n] = NULL;

    if (setenv("PATH", "/usr/local/bin:/usr/bin:/bin", 0) != 0) {
        /* not fatal */
    }

    if (strchr(args[0], '/') != NULL) {
        execv(args[0], args);
        fprintf(stderr, "docker-entrypoint: exec %s: %s\n", args[0], strerror(errno));
        return errno == ENOENT ? 127 : 126;
    }

    int saved = ENOENT;
    for (i = 0; search_path[i] != NULL; i++) {
        char full[4096];
        int len = snprintf(full, sizeof full, "%s/%s", search_path[i], args[0]);
        if (len < 0 || (size_t)len >= sizeof full)
            continue;
        execv(full, args);
        if (errno != ENOENT && errno != ENOTDIR)
            saved = errno;
    }
    fprintf(stderr, "docker-entrypoint: %s: %s\n", args[0],
            saved == ENOENT ? "command not found" : strerror(saved));
    return saved == ENOENT ? 127 : 126;
}
