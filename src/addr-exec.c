/* placeholder: being written */
#include "config.h"

#include "addr.h"

QIOChannel *qioc_open_exec(const QiocAddress *addr, QiocAccess *access,
                           const QiocOptions *opts, GError **errp)
{
    g_set_error(errp, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                "EXEC is not implemented yet");
    return NULL;
}

QIOChannel *qioc_open_system(const QiocAddress *addr, QiocAccess *access,
                             const QiocOptions *opts, GError **errp)
{
    return qioc_open_exec(addr, access, opts, errp);
}
