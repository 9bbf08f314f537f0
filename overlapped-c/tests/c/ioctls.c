/*
 * ioctls.c: WSAIoctl's query and notification codes through the C
 * interface (SIO_ADDRESS_LIST_QUERY, SIO_GET_INTERFACE_LIST,
 * SIO_ROUTING_INTERFACE_QUERY, SIO_ADDRESS_LIST_CHANGE,
 * SIO_ROUTING_INTERFACE_CHANGE, SIO_BASE_HANDLE, FIONREAD, an unsupported
 * code) in the synchronous, event-record and completion-routine modes, and
 * WSAAddressToStringA / WSAStringToAddressA. Prints "ok N checks" or the
 * first failed check.
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
    SOCKET u, s;
    static char out[8192], out2[8192];
    DWORD bytes, flags, bytes2;
    SOCKET_ADDRESS_LIST *list;
    INTERFACE_INFO *ii;
    SOCKADDR_IN dest, local, sin;
    SOCKADDR_IN6 sin6;
    WSAOVERLAPPED ov;
    WSAEVENT ev = WSACreateEvent();
    char text[64];
    DWORD textlen;
    INT len;
    int i, loopback;
    SOCKET base;

    CHECK(WSAStartup(MAKEWORD(2, 2), &wsa) == 0);
    CHECK(sizeof(INTERFACE_INFO) == 76 && sizeof(SOCKET_ADDRESS) == 16);
    u = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);

    /* SIO_ADDRESS_LIST_QUERY: a SOCKET_ADDRESS_LIST whose pointers point into the buffer. */
    CHECK(WSAIoctl(u, SIO_ADDRESS_LIST_QUERY, NULL, 0, out, sizeof(out), &bytes, NULL, NULL) == 0);
    list = (SOCKET_ADDRESS_LIST *)out;
    CHECK(list->iAddressCount >= 1 && bytes >= SIZEOF_SOCKET_ADDRESS_LIST(list->iAddressCount));
    loopback = 0;
    for (i = 0; i < list->iAddressCount; i++) {
        SOCKADDR_IN *a = (SOCKADDR_IN *)list->Address[i].lpSockaddr;
        CHECK((char *)a >= out && (char *)a + sizeof(*a) <= out + bytes);
        CHECK(list->Address[i].iSockaddrLength == sizeof(SOCKADDR_IN) && a->sin_family == AF_INET);
        if (a->sin_addr.s_addr == htonl(INADDR_LOOPBACK))
            loopback++;
    }
    CHECK(loopback == 1);
    /* Too small: WSAEFAULT and the size needed. */
    CHECK(WSAIoctl(u, SIO_ADDRESS_LIST_QUERY, NULL, 0, out2, 4, &bytes2, NULL, NULL) == SOCKET_ERROR);
    CHECK(WSAGetLastError() == WSAEFAULT && bytes2 == bytes);

    /* SIO_GET_INTERFACE_LIST: synchronous, then overlapped (always pending, fact 122). */
    CHECK(WSAIoctl(u, SIO_GET_INTERFACE_LIST, NULL, 0, out, sizeof(out), &bytes, NULL, NULL) == 0);
    CHECK(bytes > 0 && bytes % sizeof(INTERFACE_INFO) == 0);
    loopback = 0;
    for (ii = (INTERFACE_INFO *)out; (char *)ii < out + bytes; ii++)
        if (ii->iiAddress.AddressIn.sin_addr.s_addr == htonl(INADDR_LOOPBACK))
            loopback += (ii->iiFlags & IFF_LOOPBACK) && (ii->iiFlags & IFF_UP);
    CHECK(loopback == 1);
    ZeroMemory(&ov, sizeof(ov));
    ov.hEvent = ev;
    memset(out2, 0, sizeof(out2));
    CHECK(WSAIoctl(u, SIO_GET_INTERFACE_LIST, NULL, 0, out2, sizeof(out2), &bytes2, &ov, NULL) == SOCKET_ERROR);
    CHECK(WSAGetLastError() == WSA_IO_PENDING);
    CHECK(WSAWaitForMultipleEvents(1, &ev, TRUE, 20000, FALSE) == WSA_WAIT_EVENT_0);
    CHECK(WSAGetOverlappedResult(u, &ov, &bytes2, FALSE, &flags) && bytes2 == bytes);
    CHECK(memcmp(out, out2, bytes) == 0);
    WSAResetEvent(ev);

    /* SIO_ROUTING_INTERFACE_QUERY. */
    ZeroMemory(&dest, sizeof(dest));
    dest.sin_family = AF_INET;
    dest.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    dest.sin_port = htons(53);
    CHECK(WSAIoctl(u, SIO_ROUTING_INTERFACE_QUERY, &dest, sizeof(dest), &local, sizeof(local), &bytes, NULL, NULL) == 0);
    CHECK(bytes == sizeof(SOCKADDR_IN) && local.sin_addr.s_addr == htonl(INADDR_LOOPBACK));

    /* SIO_BASE_HANDLE: the socket itself; FIONREAD; an unsupported code. */
    CHECK(WSAIoctl(u, SIO_BASE_HANDLE, NULL, 0, &base, sizeof(base), &bytes, NULL, NULL) == 0);
    CHECK(bytes == sizeof(SOCKET) && base == u);
    CHECK(WSAIoctl(u, FIONREAD, NULL, 0, &flags, sizeof(flags), &bytes, NULL, NULL) == 0 && flags == 0 && bytes == 4);
    CHECK(WSAIoctl(u, SIO_FLUSH, NULL, 0, NULL, 0, &bytes, NULL, NULL) == SOCKET_ERROR);
    CHECK(WSAGetLastError() == WSAEOPNOTSUPP && bytes == 0);

    /* SIO_ADDRESS_LIST_CHANGE with an event record: pends; cancelled, it ends aborted. */
    ZeroMemory(&ov, sizeof(ov));
    ov.hEvent = ev;
    CHECK(WSAIoctl(u, SIO_ADDRESS_LIST_CHANGE, NULL, 0, NULL, 0, &bytes, &ov, NULL) == SOCKET_ERROR);
    CHECK(WSAGetLastError() == WSA_IO_PENDING);
    CHECK(WSAWaitForMultipleEvents(1, &ev, TRUE, 200, FALSE) == WSA_WAIT_TIMEOUT);
    CHECK(CancelIoEx((HANDLE)u, &ov));
    CHECK(WSAWaitForMultipleEvents(1, &ev, TRUE, 20000, FALSE) == WSA_WAIT_EVENT_0);
    CHECK(!WSAGetOverlappedResult(u, &ov, &bytes, FALSE, &flags) && WSAGetLastError() == WSA_OPERATION_ABORTED);
    WSAResetEvent(ev);

    /* SIO_ROUTING_INTERFACE_CHANGE with a completion routine; closing the socket aborts it. */
    s = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
    ZeroMemory(&ov, sizeof(ov));
    CHECK(WSAIoctl(s, SIO_ROUTING_INTERFACE_CHANGE, &dest, sizeof(dest), NULL, 0, &bytes, &ov, Routine) == SOCKET_ERROR);
    CHECK(WSAGetLastError() == WSA_IO_PENDING);
    CHECK(SleepEx(100, TRUE) == 0 && RoutineRuns == 0);
    CHECK(closesocket(s) == 0);
    for (i = 0; i < 200 && RoutineRuns == 0; i++)
        SleepEx(100, TRUE);
    CHECK(RoutineRuns == 1 && RoutineError == WSA_OPERATION_ABORTED);

    /* A non-blocking socket without a record: WSAEWOULDBLOCK at once. */
    flags = 1;
    CHECK(ioctlsocket(u, FIONBIO, &flags) == 0);
    CHECK(WSAIoctl(u, SIO_ADDRESS_LIST_CHANGE, NULL, 0, NULL, 0, &bytes, NULL, NULL) == SOCKET_ERROR);
    CHECK(WSAGetLastError() == WSAEWOULDBLOCK);
    closesocket(u);

    /* WSAAddressToStringA. */
    ZeroMemory(&sin, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(0x7f000001);
    sin.sin_port = htons(8080);
    textlen = sizeof(text);
    CHECK(WSAAddressToStringA((LPSOCKADDR)&sin, sizeof(sin), NULL, text, &textlen) == 0);
    CHECK(strcmp(text, "127.0.0.1:8080") == 0 && textlen == 15);
    sin.sin_port = 0;
    textlen = sizeof(text);
    CHECK(WSAAddressToString((LPSOCKADDR)&sin, sizeof(sin), NULL, text, &textlen) == 0);
    CHECK(strcmp(text, "127.0.0.1") == 0 && textlen == 10);
    textlen = 5;
    CHECK(WSAAddressToStringA((LPSOCKADDR)&sin, sizeof(sin), NULL, text, &textlen) == SOCKET_ERROR);
    CHECK(WSAGetLastError() == WSAEFAULT && textlen == 10);
    ZeroMemory(&sin6, sizeof(sin6));
    sin6.sin6_family = AF_INET6;
    sin6.sin6_addr = in6addr_loopback;
    sin6.sin6_port = htons(80);
    textlen = sizeof(text);
    CHECK(WSAAddressToStringA((LPSOCKADDR)&sin6, sizeof(sin6), NULL, text, &textlen) == 0);
    CHECK(strcmp(text, "[::1]:80") == 0);

    /* WSAStringToAddressA. */
    len = sizeof(sin);
    CHECK(WSAStringToAddressA((LPSTR) "192.168.1.2:99", AF_INET, NULL, (LPSOCKADDR)&sin, &len) == 0);
    CHECK(len == sizeof(SOCKADDR_IN) && sin.sin_family == AF_INET && sin.sin_port == htons(99));
    CHECK(sin.sin_addr.s_addr == inet_addr("192.168.1.2"));
    len = sizeof(sin6);
    CHECK(WSAStringToAddressA((LPSTR) "::1", AF_INET6, NULL, (LPSOCKADDR)&sin6, &len) == 0);
    CHECK(len == sizeof(SOCKADDR_IN6) && sin6.sin6_port == 0 && memcmp(&sin6.sin6_addr, &in6addr_loopback, 16) == 0);
    len = sizeof(sin);
    CHECK(WSAStringToAddressA((LPSTR) "not.an.address", AF_INET, NULL, (LPSOCKADDR)&sin, &len) == SOCKET_ERROR);
    CHECK(WSAGetLastError() == WSAEINVAL);
    CHECK(WSAStringToAddressA((LPSTR) "::1", AF_INET, NULL, (LPSOCKADDR)&sin, &len) == SOCKET_ERROR);
    CHECK(WSAGetLastError() == WSAEINVAL);
    len = 4;
    CHECK(WSAStringToAddressA((LPSTR) "10.0.0.1", AF_INET, NULL, (LPSOCKADDR)&sin, &len) == SOCKET_ERROR);
    CHECK(WSAGetLastError() == WSAEFAULT && len == sizeof(SOCKADDR_IN));

    WSACloseEvent(ev);
    CHECK(WSACleanup() == 0);
    printf("ok %d checks\n", checks);
    return 0;
}
