/*
 * nsp.c: a host-name query through WSALookupServiceBeginA / NextA / End,
 * and WSANSPIoctl(SIO_NSP_NOTIFY_CHANGE) as a poll, with an event record and
 * with a completion routine, the query's resolver file being a temporary
 * one (OVERLAPPED_RESOLVER_FILES) changed by this program. Prints
 * "ok N checks" or the first failed check.
 */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
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

static char path[256];

static void change(void)
{
    FILE *f = fopen(path, "a");
    CHECK(f != NULL);
    fputs("# changed\n", f);
    fclose(f);
}

static int RoutineRuns;
static DWORD RoutineError;
static void CALLBACK Routine(DWORD error, DWORD bytes, LPWSAOVERLAPPED ov, DWORD flags)
{
    (void)bytes;
    (void)ov;
    (void)flags;
    RoutineRuns++;
    RoutineError = error;
}

int main(void)
{
    WSADATA wsa;
    WSAQUERYSETA q, *r;
    HANDLE h = NULL;
    static char buf[4096];
    DWORD len, bytes, flags;
    WSACOMPLETION wc;
    WSAOVERLAPPED ov;
    WSAEVENT ev = WSACreateEvent();
    int found = 0, answers = 0, i;

    CHECK(sizeof(WSAQUERYSETA) == 120 && sizeof(CSADDR_INFO) == 40 && sizeof(WSACOMPLETION) == 32);
    CHECK(WSAStartup(MAKEWORD(2, 2), &wsa) == 0);
    snprintf(path, sizeof(path), "/tmp/overlapped-nsp-%d.conf", (int)GetCurrentProcessId());
    change();
    setenv("OVERLAPPED_RESOLVER_FILES", path, 1);

    ZeroMemory(&q, sizeof(q));
    q.dwSize = sizeof(q);
    q.lpszServiceInstanceName = (LPSTR) "localhost";
    q.dwNameSpace = NS_DNS;
    CHECK(WSALookupServiceBeginA(&q, LUP_RETURN_ADDR | LUP_RETURN_NAME, &h) == 0 && h != NULL);

    /* Too small a buffer: WSAEFAULT and the size needed; the answer is kept. */
    len = 16;
    CHECK(WSALookupServiceNextA(h, 0, &len, (LPWSAQUERYSETA)buf) == SOCKET_ERROR && WSAGetLastError() == WSAEFAULT);
    CHECK(len > sizeof(WSAQUERYSETA));
    for (;;) {
        len = sizeof(buf);
        if (WSALookupServiceNextA(h, 0, &len, (LPWSAQUERYSETA)buf) != 0) {
            CHECK(WSAGetLastError() == WSA_E_NO_MORE);
            break;
        }
        r = (LPWSAQUERYSETA)buf;
        answers++;
        CHECK(r->dwNumberOfCsAddrs == 1 && strcmp(r->lpszServiceInstanceName, "localhost") == 0);
        if (r->lpcsaBuffer[0].RemoteAddr.lpSockaddr->sa_family == AF_INET) {
            SOCKADDR_IN *a = (SOCKADDR_IN *)r->lpcsaBuffer[0].RemoteAddr.lpSockaddr;
            CHECK(r->lpcsaBuffer[0].RemoteAddr.iSockaddrLength == sizeof(SOCKADDR_IN));
            found += a->sin_addr.s_addr == htonl(INADDR_LOOPBACK);
        }
    }
    CHECK(answers >= 1 && found == 1);

    /* A poll: nothing changed yet. */
    CHECK(WSANSPIoctl(h, SIO_NSP_NOTIFY_CHANGE, NULL, 0, NULL, 0, &bytes, NULL) == SOCKET_ERROR);
    CHECK(WSAGetLastError() == WSAEWOULDBLOCK);

    /* An event record: pending until the resolver file changes. */
    ZeroMemory(&ov, sizeof(ov));
    ov.hEvent = ev;
    ZeroMemory(&wc, sizeof(wc));
    wc.Type = NSP_NOTIFY_EVENT;
    wc.Parameters.Event.lpOverlapped = &ov;
    CHECK(WSANSPIoctl(h, SIO_NSP_NOTIFY_CHANGE, NULL, 0, NULL, 0, &bytes, &wc) == SOCKET_ERROR);
    CHECK(WSAGetLastError() == WSA_IO_PENDING);
    CHECK(WSAWaitForMultipleEvents(1, &ev, TRUE, 300, FALSE) == WSA_WAIT_TIMEOUT);
    change();
    CHECK(WSAWaitForMultipleEvents(1, &ev, TRUE, 20000, FALSE) == WSA_WAIT_EVENT_0);
    CHECK(GetOverlappedResult(h, &ov, &bytes, FALSE) && bytes == 0 && ov.Internal == 0);
    WSAResetEvent(ev);
    /* Since begin, the answer may have changed: the poll says so now. */
    CHECK(WSANSPIoctl(h, SIO_NSP_NOTIFY_CHANGE, NULL, 0, NULL, 0, &bytes, NULL) == 0);

    /* A completion routine. */
    ZeroMemory(&ov, sizeof(ov));
    ZeroMemory(&wc, sizeof(wc));
    wc.Type = NSP_NOTIFY_APC;
    wc.Parameters.Apc.lpOverlapped = &ov;
    wc.Parameters.Apc.lpfnCompletionProc = Routine;
    CHECK(WSANSPIoctl(h, SIO_NSP_NOTIFY_CHANGE, NULL, 0, NULL, 0, &bytes, &wc) == SOCKET_ERROR);
    CHECK(WSAGetLastError() == WSA_IO_PENDING);
    change();
    for (i = 0; i < 200 && RoutineRuns == 0; i++)
        SleepEx(100, TRUE);
    CHECK(RoutineRuns == 1 && RoutineError == 0);

    /* Not provided: a completion port or a window; other codes. */
    wc.Type = NSP_NOTIFY_PORT;
    CHECK(WSANSPIoctl(h, SIO_NSP_NOTIFY_CHANGE, NULL, 0, NULL, 0, &bytes, &wc) == SOCKET_ERROR);
    CHECK(WSAGetLastError() == WSAEOPNOTSUPP);

    /* WSALookupServiceEnd aborts a pending notification. */
    ZeroMemory(&ov, sizeof(ov));
    ov.hEvent = ev;
    ZeroMemory(&wc, sizeof(wc));
    wc.Type = NSP_NOTIFY_EVENT;
    wc.Parameters.Event.lpOverlapped = &ov;
    CHECK(WSANSPIoctl(h, SIO_NSP_NOTIFY_CHANGE, NULL, 0, NULL, 0, &bytes, &wc) == SOCKET_ERROR);
    CHECK(WSALookupServiceEnd(h) == 0);
    CHECK(WSAWaitForMultipleEvents(1, &ev, TRUE, 20000, FALSE) == WSA_WAIT_EVENT_0);
    CHECK(!WSAGetOverlappedResult((SOCKET)h, &ov, &bytes, TRUE, &flags) && WSAGetLastError() == WSA_OPERATION_ABORTED);
    CHECK(WSALookupServiceEnd(h) == SOCKET_ERROR && WSAGetLastError() == WSA_INVALID_HANDLE);

    remove(path);
    WSACloseEvent(ev);
    CHECK(WSACleanup() == 0);
    printf("ok %d checks\n", checks);
    return 0;
}
