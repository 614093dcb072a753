/* usock.h: Unix stream sockets by path. */
#ifndef FSB_USOCK_H
#define FSB_USOCK_H

/* A connected socket, or -errno (-ENAMETOOLONG for a path sun_path can't hold). */
int usock_connect(const char *path);

/* A listening socket at path, created 0600 whatever the umask (a socket
 * there is replaced; anything else is refused with -EEXIST), or -errno. */
int usock_listen(const char *path);

#endif
