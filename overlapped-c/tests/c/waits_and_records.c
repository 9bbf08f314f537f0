/*
 * waits_and_records.c: the answers a new user's report found wrong, checked
 * with real codes:
 *   D0  waits on more than 64 handles: every answer unambiguous (up to 192
 *       events for WSAWaitForMultipleEvents, 128 handles for
 *       WaitForMultipleObjects(Ex); beyond: failure with
 *       WSA_INVALID_PARAMETER / ERROR_INVALID_PARAMETER; 192 and 258 never
 *       come back as indices, nor 128 from WaitForMultipleObjects);
 *   D1  closesocket with a receive pending in the event-object model: the
 *       record ends with STATUS_CONNECTION_ABORTED (fact 127),
 *       GetOverlappedResult reads it without the handle (FALSE,
 *       ERROR_CONNECTION_ABORTED), WSAGetOverlappedResult on the closed
 *       SOCKET gives WSAENOTSOCK (fact 48);
 *   D2  a loop polling ov.Internal with Sleep / SleepEx / SwitchToThread ends;
 *   D3  GetQueuedCompletionStatus success keeps the last error (fact 138);
 *   and the headers found by upper-case names (<WINSOCK2.H>, <MSWSOCK.H>, <WINDOWS.H>).
 * Prints "ok N checks" or the first failed check.
 */
/* Header names in any case, as Windows finds them (upper-case here). */
#include <WINSOCK2.H>
#include <MSWSOCK.H>
#include <WINDOWS.H>
#include <stdio.h>
#include <stdlib.h>
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

#define STATUS_CONNECTION_ABORTED_ ((DWORD)0xC0000241L)
#define EVENTS 300

static SOCKET Listener;
static SOCKADDR_IN ListenAddr;

static void pair(SOCKET *client, SOCKET *server)
{
    *client = WSASocket(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0, WSA_FLAG_OVERLAPPED);
    CHECK(*client != INVALID_SOCKET);
    CHECK(connect(*client, (SOCKADDR *)&ListenAddr, sizeof(ListenAddr)) == 0);
    *server = accept(Listener, NULL, NULL);
    CHECK(*server != INVALID_SOCKET);
}

/* One event of `ev` set, all others reset. */
static void only(WSAEVENT *ev, int set)
{
    int i;
    for (i = 0; i < EVENTS; i++)
        CHECK(WSAResetEvent(ev[i]));
    if (set >= 0)
        CHECK(WSASetEvent(ev[set]));
}

static void waits(void)
{
    WSAEVENT ev[EVENTS];
    DWORD r;
    int i;
    CHECK(WSA_MAXIMUM_WAIT_EVENTS == 64 && MAXIMUM_WAIT_OBJECTS == 64);
    for (i = 0; i < EVENTS; i++) {
        ev[i] = WSACreateEvent();
        CHECK(ev[i] != WSA_INVALID_EVENT);
    }
    /* Beyond 64: lifted. */
    only(ev, 64);
    CHECK(WSAWaitForMultipleEvents(65, ev, FALSE, 2000, FALSE) == WSA_WAIT_EVENT_0 + 64);
    CHECK(WaitForMultipleObjects(65, ev, FALSE, 2000) == WAIT_OBJECT_0 + 64);
    /* The last index of each: 191 and 127. */
    only(ev, 191);
    CHECK(WSAWaitForMultipleEvents(192, ev, FALSE, 2000, TRUE) == WSA_WAIT_EVENT_0 + 191);
    only(ev, 127);
    CHECK(WaitForMultipleObjects(128, ev, FALSE, 2000) == WAIT_OBJECT_0 + 127);
    CHECK(WaitForMultipleObjectsEx(128, ev, FALSE, 2000, TRUE) == WAIT_OBJECT_0 + 127);
    /* The full sets time out as such. */
    only(ev, -1);
    CHECK(WSAWaitForMultipleEvents(192, ev, FALSE, 0, FALSE) == WSA_WAIT_TIMEOUT);
    CHECK(WaitForMultipleObjects(128, ev, FALSE, 0) == WAIT_TIMEOUT);
    /* One more fails, last error set: 192 would read as WSA_WAIT_IO_COMPLETION. */
    only(ev, 192);
    WSASetLastError(0);
    r = WSAWaitForMultipleEvents(193, ev, FALSE, 2000, TRUE);
    CHECK(r == WSA_WAIT_FAILED && r != WSA_WAIT_IO_COMPLETION);
    CHECK(WSAGetLastError() == WSA_INVALID_PARAMETER);
    /* 258 would read as WSA_WAIT_TIMEOUT. */
    only(ev, 258);
    WSASetLastError(0);
    r = WSAWaitForMultipleEvents(EVENTS, ev, FALSE, 2000, FALSE);
    CHECK(r == WSA_WAIT_FAILED && r != WSA_WAIT_TIMEOUT);
    CHECK(WSAGetLastError() == WSA_INVALID_PARAMETER);
    /* 128 would read as WAIT_ABANDONED_0. */
    only(ev, 128);
    SetLastError(0);
    r = WaitForMultipleObjects(129, ev, FALSE, 2000);
    CHECK(r == WAIT_FAILED && r != WAIT_ABANDONED_0);
    CHECK(GetLastError() == ERROR_INVALID_PARAMETER);
    SetLastError(0);
    CHECK(WaitForMultipleObjectsEx(129, ev, FALSE, 2000, TRUE) == WAIT_FAILED);
    CHECK(GetLastError() == ERROR_INVALID_PARAMETER);
    /* The set event stays set: nothing consumed by a refused wait. */
    CHECK(WaitForSingleObject(ev[128], 0) == WAIT_OBJECT_0);
    for (i = 0; i < EVENTS; i++)
        CHECK(WSACloseEvent(ev[i]));
}

/* A receive pending on an event record, then closesocket: how the record,
 * the waits and both GetOverlappedResult forms report it. */
static void close_with_receive_pending(int wait_first)
{
    SOCKET c, sv;
    WSAOVERLAPPED ov;
    WSABUF wb;
    char buf[64];
    DWORD flags = 0, n = 77;
    WSAEVENT ev = WSACreateEvent();
    pair(&c, &sv);
    ZeroMemory(&ov, sizeof(ov));
    ov.hEvent = ev;
    wb.buf = buf;
    wb.len = sizeof(buf);
    CHECK(WSARecv(c, &wb, 1, NULL, &flags, &ov, NULL) == SOCKET_ERROR);
    CHECK(WSAGetLastError() == WSA_IO_PENDING);
    CHECK(ov.Internal == STATUS_PENDING);
    CHECK(closesocket(c) == 0);
    if (wait_first) {
        CHECK(WSAWaitForMultipleEvents(1, &ev, TRUE, 5000, FALSE) == WSA_WAIT_EVENT_0);
        CHECK((DWORD)ov.Internal == STATUS_CONNECTION_ABORTED_);
        CHECK(ov.InternalHigh == 0);
        CHECK(HasOverlappedIoCompleted(&ov));
    }
    /* kernel32's form reads the record: the handle is closed, no matter. */
    SetLastError(0);
    CHECK(GetOverlappedResult((HANDLE)c, &ov, &n, TRUE) == FALSE);
    CHECK(GetLastError() == ERROR_CONNECTION_ABORTED);
    CHECK(n == 0);
    CHECK((DWORD)ov.Internal == STATUS_CONNECTION_ABORTED_);
    CHECK(HasOverlappedIoCompleted(&ov));
    /* Winsock's form asks about the SOCKET first: closed (fact 48). */
    CHECK(WSAGetOverlappedResult(c, &ov, &n, FALSE, &flags) == FALSE);
    CHECK(WSAGetLastError() == WSAENOTSOCK);
    CHECK(closesocket(sv) == 0);
    CHECK(WSACloseEvent(ev));
}

/* A receive completed by the peer, noticed only by polling ov.Internal
 * between calls of `how` (0 Sleep, 1 SleepEx, 2 SwitchToThread). */
static void poll_internal(int how)
{
    SOCKET c, sv;
    WSAOVERLAPPED ov;
    WSABUF wb;
    char buf[64];
    DWORD flags = 0, start;
    pair(&c, &sv);
    ZeroMemory(&ov, sizeof(ov));
    ZeroMemory(buf, sizeof(buf));
    ov.hEvent = WSACreateEvent();
    wb.buf = buf;
    wb.len = sizeof(buf);
    CHECK(WSARecv(c, &wb, 1, NULL, &flags, &ov, NULL) == SOCKET_ERROR);
    CHECK(WSAGetLastError() == WSA_IO_PENDING);
    CHECK(send(sv, "world", 5, 0) == 5);
    start = GetTickCount();
    while (ov.Internal == STATUS_PENDING && GetTickCount() - start < 5000) {
        if (how == 0)
            Sleep(5);
        else if (how == 1)
            CHECK(SleepEx(5, FALSE) == 0);
        else
            CHECK(SwitchToThread());
    }
    CHECK(ov.Internal == 0);
    CHECK(ov.InternalHigh == 5);
    CHECK(memcmp(buf, "world", 5) == 0);
    CHECK(HasOverlappedIoCompleted(&ov));
    closesocket(c);
    closesocket(sv);
    WSACloseEvent(ov.hEvent);
}

static void port_success_keeps_last_error(void)
{
    HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
    DWORD bytes = 0;
    ULONG_PTR key = 0;
    LPOVERLAPPED got = NULL;
    CHECK(port != NULL);
    CHECK(PostQueuedCompletionStatus(port, 7, 9, NULL));
    SetLastError(0xdeadbeef);
    CHECK(GetQueuedCompletionStatus(port, &bytes, &key, &got, 5000));
    CHECK(bytes == 7 && key == 9 && got == NULL);
    CHECK(GetLastError() == 0xdeadbeef);
    CHECK(CloseHandle(port));
}

int main(void)
{
    WSADATA wsa;
    int alen = sizeof(ListenAddr);
    CHECK(WSAStartup(MAKEWORD(2, 2), &wsa) == 0);
    Listener = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(Listener != INVALID_SOCKET);
    ZeroMemory(&ListenAddr, sizeof(ListenAddr));
    ListenAddr.sin_family = AF_INET;
    ListenAddr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(Listener, (SOCKADDR *)&ListenAddr, sizeof(ListenAddr)) == 0);
    CHECK(listen(Listener, 8) == 0);
    CHECK(getsockname(Listener, (SOCKADDR *)&ListenAddr, &alen) == 0);

    waits();
    close_with_receive_pending(1);
    close_with_receive_pending(0);
    poll_internal(0);
    poll_internal(1);
    poll_internal(2);
    port_success_keeps_last_error();

    closesocket(Listener);
    WSACleanup();
    printf("ok %d checks\n", checks);
    return 0;
}
