/*
 * libqio - umbrella header
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef QIO_H
#define QIO_H

#include "qio/qio-version.h"
#include "qio/coroutine.h"
#include "qio/channel.h"
#include "qio/channel-watch.h"
#include "qio/channel-file.h"
#include "qio/channel-socket.h"
#include "qio/channel-util.h"
#include "qio/task.h"
#include "qio/net-listener.h"
#include "qio/channel-command.h"
#include "qio/channel-tls.h" /* and qio/tls-creds.h */
#include "qio/channel-dual.h"
#include "qio/channel-datagram-peer.h"
#include "qio/datagram-server.h"

#endif /* QIO_H */
