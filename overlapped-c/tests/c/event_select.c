/*
 * event_select.c: WSAEventSelect and WSAEnumNetworkEvents through the C
 * interface, checked at run time: which network events are recorded and
 * when, Windows' re-enabling rules (FD_READ by recv, FD_WRITE only after
 * WSAEWOULDBLOCK, FD_ACCEPT by accept), iErrorCode values, the socket made
 * non-blocking, FIONBIO(0) refused, a selection inherited by accept, and
 * the error codes of bad calls. Prints "ok N checks" or the first failed
 * check.
 */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
#include <stdio.h>
#include <string.h>

#pragma comment(lib, "ws2_32.lib")

static int checks = 0;
#define CHECK(cond)                                                                                    \
    do {                                                                                               \
        checks++;                                                                                      \
        if (!(cond)) {                                                                                 \
            printf("FAILED line %d: %s (WSAGetLastError %d)\n", __LINE__, #cond, WSAGetLastError()); \
            exit(1);                                                                                   \
        }                                                                                              \
    } while (0)

/* Generous for a loaded machine: an expected event must come within 20 s. */
#define COMES 20000
/* An event that must not come is given this long to show up. */
#define QUIET 300

static SOCKET listener(SOCKADDR_IN *addr)
{
    int len = sizeof(*addr);
    SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    ZeroMemory(addr, sizeof(*addr));
    addr->sin_family = AF_INET;
    addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(s, (SOCKADDR *)addr, sizeof(*addr)) == 0);
    CHECK(listen(s, SOMAXCONN) == 0);
    CHECK(getsockname(s, (SOCKADDR *)addr, &len) == 0);
    return s;
}

static void pair(SOCKET *a, SOCKET *b)
{
    SOCKADDR_IN addr;
    SOCKET l = listener(&addr);
    *a = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(connect(*a, (SOCKADDR *)&addr, sizeof(addr)) == 0);
    *b = accept(l, NULL, NULL);
    CHECK(*b != INVALID_SOCKET);
    closesocket(l);
}

/* Waits for `ev` and returns the socket's recorded events (the event is reset). */
static WSANETWORKEVENTS next(SOCKET s, WSAEVENT ev)
{
    WSANETWORKEVENTS ne;
    CHECK(WSAWaitForMultipleEvents(1, &ev, FALSE, COMES, FALSE) == WSA_WAIT_EVENT_0);
    CHECK(WSAEnumNetworkEvents(s, ev, &ne) == 0);
    return ne;
}

static int quiet(WSAEVENT ev)
{
    return WSAWaitForMultipleEvents(1, &ev, FALSE, QUIET, FALSE) == WSA_WAIT_TIMEOUT;
}

int main(void)
{
    WSADATA wsa;
    SOCKET a, b, c, d, l, x, y, s;
    SOCKADDR_IN addr, none;
    WSAEVENT ev = WSACreateEvent(), ev2 = WSACreateEvent();
    WSANETWORKEVENTS ne;
    u_long arg;
    char buf[65536];
    int n, i, len;
    long total, got;
    struct linger lg;

    CHECK(WSAStartup(MAKEWORD(2, 2), &wsa) == 0);
    CHECK(sizeof(WSANETWORKEVENTS) == 44);

    /* Bad calls. */
    CHECK(WSAEventSelect(INVALID_SOCKET, ev, FD_READ) == SOCKET_ERROR && WSAGetLastError() == WSAENOTSOCK);
    pair(&a, &b);
    CHECK(WSAEventSelect(b, (WSAEVENT)0x7777770, FD_READ) == SOCKET_ERROR && WSAGetLastError() == WSAEINVAL);
    CHECK(WSAEnumNetworkEvents(b, ev, NULL) == SOCKET_ERROR && WSAGetLastError() == WSAEFAULT);
    CHECK(WSAEnumNetworkEvents(12345, ev, &ne) == SOCKET_ERROR && WSAGetLastError() == WSAENOTSOCK);

    /* A connected socket: FD_WRITE at once, nothing else. */
    CHECK(WSAEventSelect(b, ev, FD_READ | FD_WRITE | FD_OOB | FD_CLOSE) == 0);
    ne = next(b, ev);
    CHECK(ne.lNetworkEvents == FD_WRITE && ne.iErrorCode[FD_WRITE_BIT] == 0);
    CHECK(quiet(ev));
    /* Non-blocking now; blocking again is refused while selected. */
    CHECK(recv(b, buf, sizeof(buf), 0) == SOCKET_ERROR && WSAGetLastError() == WSAEWOULDBLOCK);
    arg = 0;
    CHECK(ioctlsocket(b, FIONBIO, &arg) == SOCKET_ERROR && WSAGetLastError() == WSAEINVAL);

    /* FD_READ: once, again only after a recv that leaves data queued. */
    CHECK(send(a, "hello", 5, 0) == 5);
    ne = next(b, ev);
    CHECK(ne.lNetworkEvents == FD_READ && ne.iErrorCode[FD_READ_BIT] == 0);
    CHECK(send(a, "world", 5, 0) == 5);
    CHECK(quiet(ev)); /* more data, but no recv yet: not recorded again */
    CHECK(recv(b, buf, 3, 0) == 3 && memcmp(buf, "hel", 3) == 0);
    ne = next(b, ev); /* the recv re-enabled FD_READ and data remains */
    CHECK(ne.lNetworkEvents == FD_READ);
    total = 0;
    while (total < 7) {
        n = recv(b, buf + total, sizeof(buf) - total, 0);
        if (n == SOCKET_ERROR) {
            CHECK(WSAGetLastError() == WSAEWOULDBLOCK);
            ne = next(b, ev);
            CHECK(ne.lNetworkEvents & FD_READ);
            continue;
        }
        total += n;
    }
    CHECK(total == 7 && memcmp(buf, "loworld", 7) == 0);
    /* Everything read: the recv re-enabled FD_READ, but nothing is queued. */
    CHECK(recv(b, buf, sizeof(buf), 0) == SOCKET_ERROR && WSAGetLastError() == WSAEWOULDBLOCK);
    (void)WSAEnumNetworkEvents(b, ev, &ne);
    CHECK(quiet(ev));

    /* FD_OOB: urgent data, read with MSG_OOB. */
    CHECK(send(a, "!", 1, MSG_OOB) == 1);
    ne = next(b, ev);
    CHECK((ne.lNetworkEvents & FD_OOB) && ne.iErrorCode[FD_OOB_BIT] == 0);
    CHECK(recv(b, buf, 1, MSG_OOB) == 1 && buf[0] == '!');
    (void)WSAEnumNetworkEvents(b, ev, &ne);

    /* FD_WRITE: only after a send failed with WSAEWOULDBLOCK and room came back. */
    memset(buf, 'w', sizeof(buf));
    total = 0;
    for (i = 0; i < 100000; i++) {
        n = send(b, buf, sizeof(buf), 0);
        if (n == SOCKET_ERROR)
            break;
        total += n;
    }
    CHECK(n == SOCKET_ERROR && WSAGetLastError() == WSAEWOULDBLOCK && total > 0);
    CHECK(quiet(ev)); /* full, so no FD_WRITE yet */
    got = 0;
    while (got < total) { /* `a` is blocking: read it all */
        n = recv(a, buf, sizeof(buf), 0);
        CHECK(n > 0);
        got += n;
    }
    ne = next(b, ev);
    CHECK(ne.lNetworkEvents == FD_WRITE && ne.iErrorCode[FD_WRITE_BIT] == 0);
    /* A send that succeeds does not re-enable it. */
    CHECK(send(b, "x", 1, 0) == 1);
    CHECK(quiet(ev));
    CHECK(recv(a, buf, 1, 0) == 1 && buf[0] == 'x');

    /* FD_CLOSE after the peer's graceful shutdown: error 0; data before it is still read. */
    CHECK(send(a, "bye", 3, 0) == 3);
    CHECK(shutdown(a, SD_SEND) == 0);
    /* FD_READ (the data) and FD_CLOSE (the FIN): in one report or two. */
    got = 0;
    for (i = 0; i < 2 && got != (FD_READ | FD_CLOSE); i++) {
        ne = next(b, ev);
        got |= ne.lNetworkEvents;
        if (ne.lNetworkEvents & FD_CLOSE)
            CHECK(ne.iErrorCode[FD_CLOSE_BIT] == 0);
    }
    CHECK(got == (FD_READ | FD_CLOSE));
    CHECK(recv(b, buf, sizeof(buf), 0) == 3 && memcmp(buf, "bye", 3) == 0);
    CHECK(recv(b, buf, sizeof(buf), 0) == 0);
    closesocket(a);
    closesocket(b);

    /* FD_CLOSE after an abortive close: WSAECONNABORTED. */
    pair(&c, &d);
    CHECK(WSAEventSelect(d, ev, FD_READ | FD_CLOSE) == 0);
    lg.l_onoff = 1;
    lg.l_linger = 0;
    CHECK(setsockopt(c, SOL_SOCKET, SO_LINGER, (char *)&lg, sizeof(lg)) == 0);
    CHECK(closesocket(c) == 0);
    ne = next(d, ev);
    CHECK((ne.lNetworkEvents & FD_CLOSE) && ne.iErrorCode[FD_CLOSE_BIT] == WSAECONNABORTED);
    CHECK(recv(d, buf, sizeof(buf), 0) == SOCKET_ERROR && WSAGetLastError() == WSAECONNRESET);
    CHECK(closesocket(d) == 0);

    /* FD_ACCEPT: re-enabled by accept; the accepted socket inherits the selection. */
    l = listener(&addr);
    CHECK(WSAEventSelect(l, ev2, FD_ACCEPT) == 0);
    CHECK(quiet(ev2));
    x = socket(AF_INET, SOCK_STREAM, 0);
    y = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(connect(x, (SOCKADDR *)&addr, sizeof(addr)) == 0);
    CHECK(connect(y, (SOCKADDR *)&addr, sizeof(addr)) == 0);
    ne = next(l, ev2);
    CHECK(ne.lNetworkEvents == FD_ACCEPT && ne.iErrorCode[FD_ACCEPT_BIT] == 0);
    CHECK(quiet(ev2)); /* a second connection is queued, but no accept yet */
    a = accept(l, NULL, NULL);
    CHECK(a != INVALID_SOCKET);
    ne = next(l, ev2); /* re-enabled, and one is still queued */
    CHECK(ne.lNetworkEvents == FD_ACCEPT);
    b = accept(l, NULL, NULL);
    CHECK(b != INVALID_SOCKET);
    CHECK(accept(l, NULL, NULL) == INVALID_SOCKET && WSAGetLastError() == WSAEWOULDBLOCK);
    /* Inherited: non-blocking, FD_ACCEPT only (nothing to report on a connection). */
    CHECK(recv(a, buf, sizeof(buf), 0) == SOCKET_ERROR && WSAGetLastError() == WSAEWOULDBLOCK);
    arg = 0;
    CHECK(ioctlsocket(a, FIONBIO, &arg) == SOCKET_ERROR && WSAGetLastError() == WSAEINVAL);
    /* Cancelled: no events, and blocking may be set again. */
    CHECK(WSAEventSelect(a, NULL, 0) == 0);
    CHECK(ioctlsocket(a, FIONBIO, &arg) == 0);
    CHECK(send(x, "abc", 3, 0) == 3);
    CHECK(recv(a, buf, sizeof(buf), 0) == 3); /* blocking again */
    closesocket(a);
    closesocket(b);
    closesocket(x);
    closesocket(y);

    /* FD_CONNECT: success (with FD_WRITE), then a refused connection. */
    s = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(WSAEventSelect(s, ev, FD_CONNECT | FD_WRITE | FD_CLOSE) == 0);
    CHECK(quiet(ev)); /* nothing to report on an unconnected socket */
    n = connect(s, (SOCKADDR *)&addr, sizeof(addr));
    CHECK(n == 0 || WSAGetLastError() == WSAEWOULDBLOCK);
    ne = next(s, ev);
    CHECK(ne.lNetworkEvents & FD_CONNECT);
    CHECK(ne.iErrorCode[FD_CONNECT_BIT] == 0);
    if (!(ne.lNetworkEvents & FD_WRITE))
        ne = next(s, ev);
    CHECK(ne.lNetworkEvents & FD_WRITE);
    a = accept(l, NULL, NULL);
    CHECK(a != INVALID_SOCKET);
    closesocket(a);
    closesocket(s);
    /* (The event may still be set by what `s` recorded before it was closed.) */
    WSAResetEvent(ev);
    /* A port with nobody listening. */
    none = addr;
    x = socket(AF_INET, SOCK_STREAM, 0);
    none.sin_port = 0;
    CHECK(bind(x, (SOCKADDR *)&none, sizeof(none)) == 0);
    len = sizeof(none);
    CHECK(getsockname(x, (SOCKADDR *)&none, &len) == 0);
    closesocket(x);
    s = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(WSAEventSelect(s, ev, FD_CONNECT | FD_CLOSE) == 0);
    CHECK(connect(s, (SOCKADDR *)&none, sizeof(none)) == SOCKET_ERROR && WSAGetLastError() == WSAEWOULDBLOCK);
    ne = next(s, ev);
    CHECK(ne.lNetworkEvents == FD_CONNECT && ne.iErrorCode[FD_CONNECT_BIT] == WSAECONNREFUSED);
    closesocket(s);
    closesocket(l);

    /* Datagrams: FD_WRITE at once, FD_READ per arrival after recvfrom. */
    x = socket(AF_INET, SOCK_DGRAM, 0);
    y = socket(AF_INET, SOCK_DGRAM, 0);
    none.sin_port = 0;
    CHECK(bind(y, (SOCKADDR *)&none, sizeof(none)) == 0);
    len = sizeof(none);
    CHECK(getsockname(y, (SOCKADDR *)&none, &len) == 0);
    CHECK(WSAEventSelect(y, ev, FD_READ | FD_WRITE) == 0);
    ne = next(y, ev);
    CHECK(ne.lNetworkEvents == FD_WRITE);
    CHECK(sendto(x, "d1", 2, 0, (SOCKADDR *)&none, sizeof(none)) == 2);
    ne = next(y, ev);
    CHECK(ne.lNetworkEvents == FD_READ);
    CHECK(recvfrom(y, buf, sizeof(buf), 0, NULL, NULL) == 2 && memcmp(buf, "d1", 2) == 0);
    CHECK(sendto(x, "d2", 2, 0, (SOCKADDR *)&none, sizeof(none)) == 2);
    ne = next(y, ev);
    CHECK(ne.lNetworkEvents == FD_READ);
    CHECK(recvfrom(y, buf, sizeof(buf), 0, NULL, NULL) == 2 && memcmp(buf, "d2", 2) == 0);
    closesocket(x);
    closesocket(y);

    /* closesocket records nothing (fact 129). */
    pair(&a, &b);
    CHECK(WSAEventSelect(b, ev, FD_READ | FD_CLOSE) == 0);
    CHECK(quiet(ev));
    CHECK(closesocket(b) == 0);
    CHECK(quiet(ev));
    closesocket(a);

    WSACloseEvent(ev);
    WSACloseEvent(ev2);
    CHECK(WSACleanup() == 0);
    printf("ok %d checks\n", checks);
    return 0;
}
