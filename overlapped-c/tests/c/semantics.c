/*
 * semantics.c: Winsock behaviour through the C interface, checked at run
 * time: error codes through WSAGetLastError and GetLastError, WSAOVERLAPPED
 * fields while pending and at completion, completion routines on the
 * issuing thread only in an alertable wait, APCs, thread handles as
 * waitables, completion-port packets, cancellation, extension functions,
 * datagrams, names. Prints "ok N checks" or the first failed check.
 */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <mswsock.h>
#include <windows.h>
#include <strsafe.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#pragma comment(lib, "ws2_32.lib")

static int checks = 0;
#define CHECK(cond)                                                                                    \
    do {                                                                                               \
        checks++;                                                                                      \
        if (getenv("SEMANTICS_TRACE"))                                                                 \
            fprintf(stderr, "line %d\n", __LINE__);                                                   \
        if (!(cond)) {                                                                                 \
            printf("FAILED line %d: %s (WSAGetLastError %d)\n", __LINE__, #cond, WSAGetLastError()); \
            exit(1);                                                                                   \
        }                                                                                              \
    } while (0)

static SOCKET listener(SOCKADDR_IN *addr)
{
    int len = sizeof(*addr);
    SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    ZeroMemory(addr, sizeof(*addr));
    addr->sin_family = AF_INET;
    addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(s, (SOCKADDR *)addr, sizeof(*addr)) == 0);
    CHECK(listen(s, SOMAXCONN) == 0);
    CHECK(getsockname(s, (SOCKADDR *)addr, &len) == 0 && len == sizeof(SOCKADDR_IN));
    return s;
}

/* A connected pair: *a is the client side, *b the accepted side. */
static void pair(SOCKET *a, SOCKET *b)
{
    SOCKADDR_IN addr, peer;
    int len = sizeof(peer);
    SOCKET l = listener(&addr);
    *a = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(connect(*a, (SOCKADDR *)&addr, sizeof(addr)) == 0);
    *b = accept(l, (SOCKADDR *)&peer, &len);
    CHECK(*b != INVALID_SOCKET && len == sizeof(SOCKADDR_IN) && peer.sin_addr.s_addr == htonl(INADDR_LOOPBACK));
    closesocket(l);
}

static DWORD RoutineThread;
static DWORD RoutineBytes, RoutineError;
static int RoutineRuns;
static void CALLBACK Routine(DWORD error, DWORD bytes, LPWSAOVERLAPPED ov, DWORD flags)
{
    (void)flags;
    RoutineThread = GetCurrentThreadId();
    RoutineBytes = bytes;
    RoutineError = error;
    RoutineRuns++;
    CHECK(ov->InternalHigh == bytes);
}

static int ApcRuns;
static ULONG_PTR ApcData;
static void CALLBACK Apc(ULONG_PTR data)
{
    ApcRuns++;
    ApcData = data;
}

static HANDLE MainThreadForApc;
static DWORD WINAPI QueueFromAnotherThread(LPVOID param)
{
    (void)param;
    return QueueUserAPC(Apc, MainThreadForApc, 42) ? 7 : 8;
}

static CRITICAL_SECTION Lock;
static LONG Counter, Plain;
static unsigned __stdcall Count(void *param)
{
    int i;
    (void)param;
    for (i = 0; i < 20000; i++) {
        InterlockedIncrement(&Counter);
        EnterCriticalSection(&Lock);
        EnterCriticalSection(&Lock); /* recursive, as on Windows */
        Plain++;
        LeaveCriticalSection(&Lock);
        LeaveCriticalSection(&Lock);
    }
    return 0;
}

static DWORD WINAPI Exits(LPVOID p)
{
    (void)p;
    ExitThread(5); /* ends the thread here: its code is 5, not 1 */
    return 1;
}

static unsigned __stdcall EndsEx(void *p)
{
    (void)p;
    _endthreadex(6);
    return 1;
}

static HANDLE PortForWaiter;
static DWORD WINAPI PortWaiter(LPVOID param)
{
    DWORD bytes;
    ULONG_PTR key;
    LPOVERLAPPED ov = (LPOVERLAPPED)1;
    BOOL ok = GetQueuedCompletionStatus(PortForWaiter, &bytes, &key, &ov, 10000);
    (void)param;
    return (!ok && ov == NULL && GetLastError() == ERROR_ABANDONED_WAIT_0) ? 0 : 1;
}

int main(void)
{
    WSADATA wsd;
    SOCKET a, b, s;
    SOCKADDR_IN addr;
    WSAOVERLAPPED ov;
    WSABUF buf;
    char data[64];
    DWORD n, flags;
    WSAEVENT ev;

    /* Before WSAStartup: WSANOTINITIALISED. */
    CHECK(socket(AF_INET, SOCK_STREAM, 0) == INVALID_SOCKET && WSAGetLastError() == WSANOTINITIALISED);
    CHECK(WSAStartup(MAKEWORD(2, 2), &wsd) == 0 && wsd.wVersion == 0x0202 && wsd.wHighVersion == 0x0202);
    /* The description names the backend that runs (and why). */
    {
        const char *forced = getenv("OVERLAPPED_BACKEND");
        CHECK(strncmp(wsd.szDescription, "overlapped: Winsock 2.2 on ", 27) == 0);
        if (forced && strcmp(forced, "epoll") == 0)
            CHECK(strncmp(wsd.szDescription + 27, "epoll (", 7) == 0);
        if (forced && strcmp(forced, "uring") == 0)
            CHECK(strncmp(wsd.szDescription + 27, "uring (", 7) == 0);
        CHECK(strcmp(wsd.szSystemStatus, "Running") == 0);
    }

    /* Error codes, in both last-error functions. */
    CHECK(closesocket((SOCKET)12345) == SOCKET_ERROR && WSAGetLastError() == WSAENOTSOCK && GetLastError() == WSAENOTSOCK);
    WSASetLastError(1234);
    CHECK(WSAGetLastError() == 1234 && GetLastError() == 1234);
    CHECK(socket(99, SOCK_STREAM, 0) == INVALID_SOCKET && WSAGetLastError() == WSAEAFNOSUPPORT);
    s = listener(&addr);
    {
        SOCKET t = socket(AF_INET, SOCK_STREAM, 0);
        CHECK(bind(t, (SOCKADDR *)&addr, sizeof(addr)) == SOCKET_ERROR && WSAGetLastError() == WSAEADDRINUSE);
        CHECK(recv(t, data, sizeof(data), 0) == SOCKET_ERROR && WSAGetLastError() == WSAENOTCONN);
        closesocket(t);
    }
    closesocket(s);
    s = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(connect(s, (SOCKADDR *)&addr, sizeof(addr)) == SOCKET_ERROR && WSAGetLastError() == WSAECONNREFUSED);
    closesocket(s);
    {
        LPSTR text = NULL;
        DWORD len = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_IGNORE_INSERTS, NULL,
                                   WSAECONNRESET, MAKELANGID(LANG_NEUTRAL, SUBLANG_DEFAULT), (LPSTR)&text, 0, NULL);
        CHECK(len > 0 && text != NULL && strstr(text, "reset") != NULL && text[len - 1] == '\n');
        LocalFree(text);
    }

    /* An overlapped receive: pending, then completed; the fields as Windows writes them. */
    pair(&a, &b);
    ev = WSACreateEvent();
    CHECK(ev != WSA_INVALID_EVENT);
    CHECK(WSAWaitForMultipleEvents(1, &ev, FALSE, 0, FALSE) == WSA_WAIT_TIMEOUT);
    ZeroMemory(&ov, sizeof(ov));
    ov.hEvent = ev;
    buf.buf = data;
    buf.len = sizeof(data);
    flags = 0;
    CHECK(WSARecv(b, &buf, 1, &n, &flags, &ov, NULL) == SOCKET_ERROR && WSAGetLastError() == WSA_IO_PENDING);
    CHECK(ov.Internal == STATUS_PENDING && !HasOverlappedIoCompleted(&ov));
    CHECK(!WSAGetOverlappedResult(b, &ov, &n, FALSE, &flags) && WSAGetLastError() == WSA_IO_INCOMPLETE);
    CHECK(send(a, "hello", 5, 0) == 5);
    CHECK(WSAWaitForMultipleEvents(1, &ev, FALSE, 5000, FALSE) == WSA_WAIT_EVENT_0);
    CHECK(memcmp(data, "hello", 5) == 0); /* the buffer is filled once the wait says so */
    CHECK(ov.Internal == STATUS_SUCCESS && ov.InternalHigh == 5 && HasOverlappedIoCompleted(&ov));
    CHECK(WSAGetOverlappedResult(b, &ov, &n, FALSE, &flags) && n == 5);

    /* Cancelled: WSA_OPERATION_ABORTED, Internal = STATUS_CANCELLED. */
    WSAResetEvent(ev);
    ZeroMemory(&ov, sizeof(ov));
    ov.hEvent = ev;
    flags = 0;
    CHECK(WSARecv(b, &buf, 1, &n, &flags, &ov, NULL) == SOCKET_ERROR && WSAGetLastError() == WSA_IO_PENDING);
    CHECK(CancelIoEx((HANDLE)b, &ov));
    CHECK(!WSAGetOverlappedResult(b, &ov, &n, TRUE, &flags) && WSAGetLastError() == WSA_OPERATION_ABORTED);
    CHECK(ov.Internal == (ULONG_PTR)STATUS_CANCELLED);

    /* Non-blocking: WSAEWOULDBLOCK. */
    {
        u_long on = 1;
        CHECK(ioctlsocket(b, FIONBIO, &on) == 0);
        CHECK(recv(b, data, sizeof(data), 0) == SOCKET_ERROR && WSAGetLastError() == WSAEWOULDBLOCK);
        on = 0;
        CHECK(ioctlsocket(b, FIONBIO, &on) == 0);
        CHECK(send(a, "xyz", 3, 0) == 3);
        Sleep(50);
        CHECK(ioctlsocket(b, FIONREAD, &on) == 0 && on == 3);
        CHECK(recv(b, data, sizeof(data), MSG_PEEK) == 3 && recv(b, data, sizeof(data), 0) == 3);
    }

    /* A completion routine runs on the issuing thread, only in an alertable wait. */
    ZeroMemory(&ov, sizeof(ov));
    flags = 0;
    RoutineRuns = 0;
    CHECK(WSARecv(b, &buf, 1, &n, &flags, &ov, Routine) == SOCKET_ERROR && WSAGetLastError() == WSA_IO_PENDING);
    CHECK(send(a, "routine", 7, 0) == 7);
    CHECK(SleepEx(200, FALSE) == 0 && RoutineRuns == 0);
    CHECK(SleepEx(5000, TRUE) == WAIT_IO_COMPLETION && RoutineRuns == 1);
    CHECK(RoutineThread == GetCurrentThreadId() && RoutineBytes == 7 && RoutineError == 0 && memcmp(data, "routine", 7) == 0);

    /* APCs: from another thread, run by this thread's alertable wait. */
    {
        DWORD code = 0;
        HANDLE t;
        MainThreadForApc = GetCurrentThread();
        CHECK(QueueUserAPC(Apc, GetCurrentThread(), 7));
        CHECK(SleepEx(5000, TRUE) == WAIT_IO_COMPLETION && ApcRuns == 1 && ApcData == 7);
        /* GetCurrentThread() is a pseudo-handle: the other thread must queue to itself... */
        t = CreateThread(NULL, 0, QueueFromAnotherThread, NULL, 0, NULL);
        CHECK(WaitForSingleObject(t, 5000) == WAIT_OBJECT_0);
        CHECK(GetExitCodeThread(t, &code) && code == 7);
        CHECK(CloseHandle(t));
        CHECK(ApcRuns == 1); /* ...so nothing reached this thread */
        SleepEx(0, TRUE);
    }

    /* Threads and locks. */
    {
        HANDLE th[4];
        int i;
        InitializeCriticalSection(&Lock);
        for (i = 0; i < 4; i++)
            th[i] = (HANDLE)_beginthreadex(NULL, 0, Count, NULL, 0, NULL);
        CHECK(WaitForMultipleObjects(4, th, TRUE, 30000) == WAIT_OBJECT_0);
        CHECK(Counter == 80000 && Plain == 80000);
        for (i = 0; i < 4; i++)
            CloseHandle(th[i]);
        DeleteCriticalSection(&Lock);
        {
            DWORD code = 0;
            HANDLE t = CreateThread(NULL, 0, Exits, NULL, 0, NULL);
            HANDLE u = (HANDLE)_beginthreadex(NULL, 0, EndsEx, NULL, 0, NULL);
            CHECK(WaitForSingleObject(t, 5000) == WAIT_OBJECT_0 && GetExitCodeThread(t, &code) && code == 5);
            CHECK(WaitForSingleObject(u, 5000) == WAIT_OBJECT_0 && GetExitCodeThread(u, &code) && code == 6);
            CloseHandle(t);
            CloseHandle(u);
        }
    }

    /* Completion ports. */
    {
        HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 1);
        DWORD bytes;
        ULONG_PTR key;
        LPOVERLAPPED got;
        OVERLAPPED mine;
        HANDLE waiter;
        CHECK(port != NULL);
        got = &mine;
        CHECK(!GetQueuedCompletionStatus(port, &bytes, &key, &got, 0) && got == NULL && GetLastError() == WAIT_TIMEOUT);
        CHECK(PostQueuedCompletionStatus(port, 11, 22, &mine));
        CHECK(GetQueuedCompletionStatus(port, &bytes, &key, &got, 1000) && got == &mine && bytes == 11 && key == 22);
        /* A socket's operation completes to the port with its key and record. */
        CHECK(CreateIoCompletionPort((HANDLE)b, port, 99, 0) == port);
        ZeroMemory(&ov, sizeof(ov));
        flags = 0;
        CHECK(WSARecv(b, &buf, 1, &n, &flags, &ov, NULL) == SOCKET_ERROR && WSAGetLastError() == WSA_IO_PENDING);
        CHECK(send(a, "port", 4, 0) == 4);
        CHECK(GetQueuedCompletionStatus(port, &bytes, &key, &got, 5000) && got == &ov && key == 99 && bytes == 4);
        CHECK(memcmp(data, "port", 4) == 0 && ov.InternalHigh == 4);
        /* A failed operation: FALSE with the record and the Win32 error. */
        ZeroMemory(&ov, sizeof(ov));
        flags = 0;
        CHECK(WSARecv(b, &buf, 1, &n, &flags, &ov, NULL) == SOCKET_ERROR && WSAGetLastError() == WSA_IO_PENDING);
        CHECK(CancelIo((HANDLE)b));
        CHECK(!GetQueuedCompletionStatus(port, &bytes, &key, &got, 5000) && got == &ov &&
              GetLastError() == ERROR_OPERATION_ABORTED);
        /* Closing the port wakes its waiter with ERROR_ABANDONED_WAIT_0. */
        PortForWaiter = port;
        waiter = CreateThread(NULL, 0, PortWaiter, NULL, 0, NULL);
        Sleep(100);
        CHECK(CloseHandle(port));
        CHECK(WaitForSingleObject(waiter, 10000) == WAIT_OBJECT_0);
        CHECK(GetExitCodeThread(waiter, &bytes) && bytes == 0);
    }
    closesocket(a);
    closesocket(b);

    /* Extension functions through WSAIoctl; ConnectEx with data, DisconnectEx. */
    {
        GUID g = WSAID_CONNECTEX, bogus = {1, 2, 3, {4}};
        GUID gd = WSAID_DISCONNECTEX;
        LPFN_CONNECTEX ConnectEx = NULL;
        LPFN_DISCONNECTEX DisconnectEx = NULL;
        SOCKADDR_IN any, peer;
        SOCKET l = listener(&addr), c = socket(AF_INET, SOCK_STREAM, 0), srv;
        int len = sizeof(peer);
        void *fn = NULL;
        CHECK(WSAIoctl(c, SIO_GET_EXTENSION_FUNCTION_POINTER, &bogus, sizeof(bogus), &fn, sizeof(fn), &n, NULL, NULL) ==
                  SOCKET_ERROR && WSAGetLastError() == WSAEINVAL);
        CHECK(WSAIoctl(c, SIO_GET_EXTENSION_FUNCTION_POINTER, &g, sizeof(g), &ConnectEx, sizeof(ConnectEx), &n, NULL, NULL) == 0 &&
              n == sizeof(ConnectEx) && ConnectEx != NULL);
        CHECK(WSAIoctl(c, SIO_GET_EXTENSION_FUNCTION_POINTER, &gd, sizeof(gd), &DisconnectEx, sizeof(DisconnectEx), &n, NULL, NULL) == 0);
        ZeroMemory(&ov, sizeof(ov));
        ov.hEvent = ev;
        WSAResetEvent(ev);
        /* ConnectEx needs a bound socket. */
        CHECK(!ConnectEx(c, (SOCKADDR *)&addr, sizeof(addr), (PVOID) "first", 5, &n, &ov) && WSAGetLastError() == WSAEINVAL);
        ZeroMemory(&any, sizeof(any));
        any.sin_family = AF_INET;
        CHECK(bind(c, (SOCKADDR *)&any, sizeof(any)) == 0);
        ZeroMemory(&ov, sizeof(ov));
        ov.hEvent = ev;
        CHECK(ConnectEx(c, (SOCKADDR *)&addr, sizeof(addr), (PVOID) "first", 5, &n, &ov) || WSAGetLastError() == ERROR_IO_PENDING);
        CHECK(WSAGetOverlappedResult(c, &ov, &n, TRUE, &flags) && n == 5);
        CHECK(setsockopt(c, SOL_SOCKET, SO_UPDATE_CONNECT_CONTEXT, NULL, 0) == 0);
        CHECK(getpeername(c, (SOCKADDR *)&peer, &len) == 0 && peer.sin_port == addr.sin_port);
        srv = accept(l, NULL, NULL);
        CHECK(recv(srv, data, 5, MSG_WAITALL) == 5 && memcmp(data, "first", 5) == 0);
        CHECK(DisconnectEx(c, NULL, 0, 0));
        CHECK(recv(srv, data, sizeof(data), 0) == 0);
        closesocket(srv);
        closesocket(c);
        closesocket(l);
    }

    /* Datagrams: WSASendTo / WSARecvFrom with the source address. */
    {
        SOCKET u1 = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP), u2 = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
        SOCKADDR_IN a1, a2, from;
        int len = sizeof(a1), fromlen = sizeof(from);
        WSABUF wb;
        ZeroMemory(&a1, sizeof(a1));
        a1.sin_family = AF_INET;
        a1.sin_addr.s_addr = inet_addr("127.0.0.1");
        a2 = a1;
        CHECK(bind(u1, (SOCKADDR *)&a1, sizeof(a1)) == 0 && getsockname(u1, (SOCKADDR *)&a1, &len) == 0);
        len = sizeof(a2);
        CHECK(bind(u2, (SOCKADDR *)&a2, sizeof(a2)) == 0 && getsockname(u2, (SOCKADDR *)&a2, &len) == 0);
        ZeroMemory(&ov, sizeof(ov));
        ov.hEvent = ev;
        WSAResetEvent(ev);
        wb.buf = data;
        wb.len = sizeof(data);
        flags = 0;
        CHECK(WSARecvFrom(u1, &wb, 1, &n, &flags, (SOCKADDR *)&from, &fromlen, &ov, NULL) == SOCKET_ERROR &&
              WSAGetLastError() == WSA_IO_PENDING);
        wb.buf = (char *)"datagram";
        wb.len = 8;
        CHECK(WSASendTo(u2, &wb, 1, &n, 0, (SOCKADDR *)&a1, sizeof(a1), NULL, NULL) == 0 && n == 8);
        CHECK(WSAWaitForMultipleEvents(1, &ev, TRUE, 5000, FALSE) == WSA_WAIT_EVENT_0);
        CHECK(WSAGetOverlappedResult(u1, &ov, &n, FALSE, &flags) && n == 8 && memcmp(data, "datagram", 8) == 0);
        CHECK(fromlen == sizeof(SOCKADDR_IN) && from.sin_port == a2.sin_port && from.sin_family == AF_INET);
        CHECK(sendto(u1, "back", 4, 0, (SOCKADDR *)&a2, sizeof(a2)) == 4);
        fromlen = sizeof(from);
        CHECK(recvfrom(u2, data, sizeof(data), 0, (SOCKADDR *)&from, &fromlen) == 4 && from.sin_port == a1.sin_port);
        closesocket(u1);
        closesocket(u2);
    }

    /* Options, select, names. */
    {
        int v = 0, len = sizeof(v);
        fd_set rd;
        struct timeval tv = {5, 0};
        struct addrinfo hints, *res = NULL;
        IN6_ADDR six;
        char text[INET6_ADDRSTRLEN];
        SYSTEM_INFO si;
        SOCKADDR_IN peer;
        SOCKET l = listener(&addr), c = socket(AF_INET, SOCK_STREAM, 0);
        CHECK(getsockopt(c, SOL_SOCKET, SO_TYPE, (char *)&v, &len) == 0 && v == SOCK_STREAM && len == sizeof(int));
        v = 1;
        CHECK(setsockopt(c, IPPROTO_TCP, TCP_NODELAY, (char *)&v, sizeof(v)) == 0);
        v = 0;
        len = sizeof(v);
        CHECK(getsockopt(c, IPPROTO_TCP, TCP_NODELAY, (char *)&v, &len) == 0 && v != 0);
        CHECK(setsockopt(c, 12345, 1, (char *)&v, sizeof(v)) == SOCKET_ERROR && WSAGetLastError() == WSAENOPROTOOPT);
        CHECK(connect(c, (SOCKADDR *)&addr, sizeof(addr)) == 0);
        FD_ZERO(&rd);
        FD_SET(l, &rd);
        CHECK(select(0, &rd, NULL, NULL, &tv) == 1 && FD_ISSET(l, &rd));
        len = sizeof(peer);
        b = accept(l, (SOCKADDR *)&peer, &len);
        CHECK(b != INVALID_SOCKET);
        closesocket(b);
        closesocket(c);
        closesocket(l);
        ZeroMemory(&hints, sizeof(hints));
        hints.ai_family = AF_INET;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_NUMERICHOST;
        CHECK(getaddrinfo("127.0.0.1", "80", &hints, &res) == 0 && res->ai_family == AF_INET &&
              res->ai_addrlen == sizeof(SOCKADDR_IN) && ((SOCKADDR_IN *)res->ai_addr)->sin_port == htons(80));
        freeaddrinfo(res);
        CHECK(getaddrinfo("no such host.invalid", NULL, &hints, &res) == WSAHOST_NOT_FOUND);
        CHECK(inet_pton(AF_INET6, "::1", &six) == 1 && six.s6_addr[15] == 1);
        CHECK(inet_ntop(AF_INET6, &six, text, sizeof(text)) != NULL && strcmp(text, "::1") == 0);
        CHECK(inet_addr("10.1.2.3") == htonl(0x0a010203) && inet_addr("bogus") == INADDR_NONE);
        addr.sin_addr.s_addr = htonl(0x7f000001);
        CHECK(strcmp(inet_ntoa(addr.sin_addr), "127.0.0.1") == 0);
        GetSystemInfo(&si);
        CHECK(si.dwNumberOfProcessors >= 1 && si.dwPageSize >= 4096);
        CHECK(GetTickCount() != 0);
    }

    /* WSAIoctl codes that complete during the call. */
    {
        SOCKET c1, c2;
        u_long on = 1, avail = 0;
        struct tcp_keepalive ka = {1, 30000, 5000};
        int v = 0, len = sizeof(v);
        pair(&c1, &c2);
        CHECK(WSAIoctl(c2, FIONBIO, &on, sizeof(on), NULL, 0, &n, NULL, NULL) == 0);
        CHECK(recv(c2, data, sizeof(data), 0) == SOCKET_ERROR && WSAGetLastError() == WSAEWOULDBLOCK);
        CHECK(send(c1, "abcd", 4, 0) == 4);
        Sleep(50);
        CHECK(WSAIoctl(c2, FIONREAD, NULL, 0, &avail, sizeof(avail), &n, NULL, NULL) == 0 && avail == 4 && n == 4);
        CHECK(WSAIoctl(c2, SIO_KEEPALIVE_VALS, &ka, sizeof(ka), NULL, 0, &n, NULL, NULL) == 0);
        CHECK(getsockopt(c2, SOL_SOCKET, SO_KEEPALIVE, (char *)&v, &len) == 0 && v != 0);
        /* An unsupported code (fact 115); the supported ones are checked by ioctls.c. */
        CHECK(WSAIoctl(c2, SIO_FLUSH, NULL, 0, data, sizeof(data), &n, NULL, NULL) == SOCKET_ERROR &&
              WSAGetLastError() == WSAEOPNOTSUPP);
        closesocket(c1);
        closesocket(c2);
    }

    /* Console and strsafe. */
    {
        char small[8];
        CHECK(WriteConsoleA(GetStdHandle(STD_ERROR_HANDLE), "console\n", 8, &n, NULL) && n == 8);
        CHECK(StringCchPrintfA(small, sizeof(small), "%d", 1234) == S_OK && strcmp(small, "1234") == 0);
        CHECK(StringCchPrintfA(small, sizeof(small), "%s", "much too long") == STRSAFE_E_INSUFFICIENT_BUFFER &&
              strcmp(small, "much to") == 0);
        CHECK(StringCbCopyNA(small, sizeof(small), "abcdef", 3) == S_OK && strcmp(small, "abc") == 0);
    }

    CHECK(WSACloseEvent(ev));
    CHECK(!WSACloseEvent(ev) && WSAGetLastError() == WSA_INVALID_HANDLE);
    /* Waiting on the same array again and again (the library keeps the
       thread's last array as an EventSet): it sees every change to it. */
    {
        WSAEVENT evs[3];
        int k;
        for (k = 0; k < 3; k++)
            evs[k] = WSACreateEvent();
        for (k = 0; k < 3; k++) {
            CHECK(WSAWaitForMultipleEvents(3, evs, FALSE, 0, FALSE) == WSA_WAIT_TIMEOUT);
            WSASetEvent(evs[2 - k]);
            CHECK(WSAWaitForMultipleEvents(3, evs, FALSE, 0, FALSE) == WSA_WAIT_EVENT_0 + (DWORD)(2 - k));
            WSAResetEvent(evs[2 - k]);
        }
        WSASetEvent(evs[0]);
        WSASetEvent(evs[1]);
        CHECK(WSAWaitForMultipleEvents(3, evs, TRUE, 0, FALSE) == WSA_WAIT_TIMEOUT);
        WSASetEvent(evs[2]);
        CHECK(WSAWaitForMultipleEvents(3, evs, TRUE, 0, FALSE) == WSA_WAIT_EVENT_0);
        /* A handle closed since the last wait on the same array: WSA_INVALID_HANDLE. */
        CHECK(WSACloseEvent(evs[1]));
        CHECK(WSAWaitForMultipleEvents(3, evs, FALSE, 0, FALSE) == WSA_WAIT_FAILED &&
              WSAGetLastError() == WSA_INVALID_HANDLE);
        WSACloseEvent(evs[0]);
        WSACloseEvent(evs[2]);
    }

    CHECK(WSACleanup() == 0);
    CHECK(WSACleanup() == SOCKET_ERROR && WSAGetLastError() == WSANOTINITIALISED);
    printf("ok %d checks\n", checks);
    return 0;
}
