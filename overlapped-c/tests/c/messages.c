/*
 * messages.c: WSARecvMsg / WSASendMsg (WSAMSG, WSACMSGHDR in Windows' layout
 * walked with the WSA_CMSG_* macros, IP_PKTINFO) and TransmitFile /
 * TransmitPackets obtained through WSAIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER),
 * with CreateFileA file handles, in the synchronous, event, completion-routine
 * and completion-port modes; every byte checked. Prints "ok N checks" or the
 * first failed check.
 */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <mswsock.h>
#include <windows.h>
#include <stdio.h>
#include <string.h>

#pragma comment(lib, "ws2_32.lib")
#pragma comment(lib, "mswsock.lib")

static int checks = 0;
#define CHECK(cond)                                                                                    \
    do {                                                                                               \
        checks++;                                                                                      \
        if (!(cond)) {                                                                                 \
            printf("FAILED line %d: %s (WSAGetLastError %d)\n", __LINE__, #cond, WSAGetLastError()); \
            exit(1);                                                                                   \
        }                                                                                              \
    } while (0)

static void *extension(SOCKET s, GUID guid)
{
    void *f = NULL;
    DWORD bytes = 0;
    CHECK(WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &guid, sizeof(guid), &f, sizeof(f), &bytes, NULL, NULL) == 0);
    CHECK(f != NULL && bytes == sizeof(f));
    return f;
}

static SOCKET udp_bound(SOCKADDR_IN *addr)
{
    int len = sizeof(*addr);
    SOCKET s = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
    CHECK(s != INVALID_SOCKET);
    ZeroMemory(addr, sizeof(*addr));
    addr->sin_family = AF_INET;
    addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(s, (SOCKADDR *)addr, sizeof(*addr)) == 0);
    CHECK(getsockname(s, (SOCKADDR *)addr, &len) == 0);
    return s;
}

static void pair(SOCKET *a, SOCKET *b)
{
    SOCKADDR_IN addr;
    int len = sizeof(addr);
    SOCKET l = socket(AF_INET, SOCK_STREAM, 0);
    ZeroMemory(&addr, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(l, (SOCKADDR *)&addr, sizeof(addr)) == 0 && listen(l, 1) == 0);
    CHECK(getsockname(l, (SOCKADDR *)&addr, &len) == 0);
    *a = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(connect(*a, (SOCKADDR *)&addr, sizeof(addr)) == 0);
    *b = accept(l, NULL, NULL);
    CHECK(*b != INVALID_SOCKET);
    closesocket(l);
}

/* The IN_PKTINFO of a received WSAMSG, checked: arrived on 127.0.0.1. */
static void check_pktinfo(WSAMSG *msg)
{
    WSACMSGHDR *cm;
    int found = 0;
    for (cm = WSA_CMSG_FIRSTHDR(msg); cm != NULL; cm = WSA_CMSG_NXTHDR(msg, cm)) {
        if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO) {
            IN_PKTINFO *pi = (IN_PKTINFO *)WSA_CMSG_DATA(cm);
            CHECK(cm->cmsg_len == WSA_CMSG_LEN(sizeof(IN_PKTINFO)));
            CHECK(pi->ipi_addr.s_addr == htonl(INADDR_LOOPBACK));
            CHECK(pi->ipi_ifindex > 0);
            found++;
        }
    }
    CHECK(found == 1);
}

static int RoutineRuns;
static DWORD RoutineBytes, RoutineError;
static void CALLBACK Routine(DWORD error, DWORD bytes, LPWSAOVERLAPPED ov, DWORD flags)
{
    (void)ov;
    (void)flags;
    RoutineRuns++;
    RoutineBytes = bytes;
    RoutineError = error;
}

/* Reads exactly `n` bytes from a blocking socket. */
static void read_all(SOCKET s, char *buf, int n)
{
    int got = 0, r;
    while (got < n) {
        r = recv(s, buf + got, n - got, 0);
        CHECK(r > 0);
        got += r;
    }
}

#define FILE_LEN 100000

int main(void)
{
    WSADATA wsa;
    SOCKET r, w, a, b;
    SOCKADDR_IN raddr, waddr, from;
    GUID recvmsg_id = WSAID_WSARECVMSG, sendmsg_id = WSAID_WSASENDMSG;
    GUID tf_id = WSAID_TRANSMITFILE, tp_id = WSAID_TRANSMITPACKETS;
    LPFN_WSARECVMSG pRecvMsg;
    LPFN_WSASENDMSG pSendMsg;
    LPFN_TRANSMITFILE pTransmitFile;
    LPFN_TRANSMITPACKETS pTransmitPackets;
    WSAMSG msg, out;
    WSABUF data, outdata;
    char buf[4096], control[64], outcontrol[64];
    DWORD bytes, flags, on = 1, key;
    WSAOVERLAPPED ov, *pov;
    WSAEVENT ev = WSACreateEvent();
    WSACMSGHDR *cm;
    IN_PKTINFO *pi;
    HANDLE file, port;
    LARGE_INTEGER size, pos;
    DWORD high;
    static char content[FILE_LEN], got[FILE_LEN + 16];
    char path[256];
    FILE *fp;
    TRANSMIT_FILE_BUFFERS tb;
    TRANSMIT_PACKETS_ELEMENT el[3];
    int i;

    CHECK(WSAStartup(MAKEWORD(2, 2), &wsa) == 0);
    CHECK(sizeof(WSAMSG) == 56 && sizeof(WSACMSGHDR) == 16 && sizeof(IN_PKTINFO) == 8);
    CHECK(sizeof(TRANSMIT_FILE_BUFFERS) == 32 && sizeof(TRANSMIT_PACKETS_ELEMENT) == 24);
    CHECK(WSA_CMSG_SPACE(sizeof(IN_PKTINFO)) == 24 && WSA_CMSG_LEN(sizeof(IN_PKTINFO)) == 24);

    r = udp_bound(&raddr);
    w = udp_bound(&waddr);
    pRecvMsg = (LPFN_WSARECVMSG)extension(r, recvmsg_id);
    pSendMsg = (LPFN_WSASENDMSG)extension(w, sendmsg_id);
    CHECK(setsockopt(r, IPPROTO_IP, IP_PKTINFO, (char *)&on, sizeof(on)) == 0);

    /* Synchronous: WSASendMsg to r, WSARecvMsg with the source and IN_PKTINFO. */
    ZeroMemory(&out, sizeof(out));
    outdata.buf = (char *)"datagram one";
    outdata.len = 12;
    out.name = (LPSOCKADDR)&raddr;
    out.namelen = sizeof(raddr);
    out.lpBuffers = &outdata;
    out.dwBufferCount = 1;
    CHECK(pSendMsg(w, &out, 0, &bytes, NULL, NULL) == 0 && bytes == 12);
    ZeroMemory(&msg, sizeof(msg));
    data.buf = buf;
    data.len = sizeof(buf);
    msg.name = (LPSOCKADDR)&from;
    msg.namelen = sizeof(from);
    msg.lpBuffers = &data;
    msg.dwBufferCount = 1;
    msg.Control.buf = control;
    msg.Control.len = sizeof(control);
    CHECK(pRecvMsg(r, &msg, &bytes, NULL, NULL) == 0);
    CHECK(bytes == 12 && memcmp(buf, "datagram one", 12) == 0);
    CHECK(msg.namelen == sizeof(SOCKADDR_IN) && from.sin_port == waddr.sin_port);
    CHECK(msg.Control.len == WSA_CMSG_LEN(sizeof(IN_PKTINFO)) && msg.dwFlags == 0);
    check_pktinfo(&msg);

    /* Event record: the receive pends, a WSASendMsg with an IN_PKTINFO choosing the source. */
    ZeroMemory(&ov, sizeof(ov));
    ov.hEvent = ev;
    msg.namelen = sizeof(from);
    msg.Control.len = sizeof(control);
    msg.dwFlags = 0;
    memset(buf, 0, sizeof(buf));
    CHECK(pRecvMsg(r, &msg, &bytes, &ov, NULL) == SOCKET_ERROR && WSAGetLastError() == WSA_IO_PENDING);
    ZeroMemory(outcontrol, sizeof(outcontrol));
    cm = (WSACMSGHDR *)outcontrol;
    cm->cmsg_len = WSA_CMSG_LEN(sizeof(IN_PKTINFO));
    cm->cmsg_level = IPPROTO_IP;
    cm->cmsg_type = IP_PKTINFO;
    pi = (IN_PKTINFO *)WSA_CMSG_DATA(cm);
    pi->ipi_addr.s_addr = htonl(INADDR_LOOPBACK);
    pi->ipi_ifindex = 0;
    out.Control.buf = outcontrol;
    out.Control.len = (ULONG)WSA_CMSG_SPACE(sizeof(IN_PKTINFO));
    outdata.buf = (char *)"second, with control";
    outdata.len = 20;
    {
        WSAOVERLAPPED sov;
        WSAEVENT sev = WSACreateEvent();
        ZeroMemory(&sov, sizeof(sov));
        sov.hEvent = sev;
        if (pSendMsg(w, &out, 0, &bytes, &sov, NULL) == SOCKET_ERROR)
            CHECK(WSAGetLastError() == WSA_IO_PENDING);
        CHECK(WSAWaitForMultipleEvents(1, &sev, TRUE, 20000, FALSE) == WSA_WAIT_EVENT_0);
        CHECK(WSAGetOverlappedResult(w, &sov, &bytes, FALSE, &flags) && bytes == 20);
        WSACloseEvent(sev);
    }
    CHECK(WSAWaitForMultipleEvents(1, &ev, TRUE, 20000, FALSE) == WSA_WAIT_EVENT_0);
    CHECK(WSAGetOverlappedResult(r, &ov, &bytes, FALSE, &flags) && bytes == 20);
    CHECK(ov.InternalHigh == 20 && memcmp(buf, "second, with control", 20) == 0);
    CHECK(from.sin_port == waddr.sin_port && from.sin_addr.s_addr == htonl(INADDR_LOOPBACK));
    check_pktinfo(&msg);
    WSAResetEvent(ev);

    /* A control buffer too small for IN_PKTINFO: MSG_CTRUNC and WSAEMSGSIZE, the data delivered. */
    out.Control.buf = NULL;
    out.Control.len = 0;
    outdata.buf = (char *)"third";
    outdata.len = 5;
    CHECK(pSendMsg(w, &out, 0, &bytes, NULL, NULL) == 0 && bytes == 5);
    msg.namelen = sizeof(from);
    msg.Control.len = 8;
    msg.dwFlags = 0;
    CHECK(pRecvMsg(r, &msg, &bytes, NULL, NULL) == SOCKET_ERROR && WSAGetLastError() == WSAEMSGSIZE);
    CHECK(bytes == 5 && memcmp(buf, "third", 5) == 0);
    CHECK((msg.dwFlags & MSG_CTRUNC) && msg.Control.len == 0);

    /* Completion routine: runs in the alertable wait with the results in place. */
    msg.namelen = sizeof(from);
    msg.Control.len = sizeof(control);
    msg.dwFlags = 0;
    ZeroMemory(&ov, sizeof(ov));
    CHECK(pRecvMsg(r, &msg, &bytes, &ov, Routine) == SOCKET_ERROR && WSAGetLastError() == WSA_IO_PENDING);
    outdata.buf = (char *)"fourth";
    outdata.len = 6;
    CHECK(WSASendMsg(w, &out, 0, &bytes, NULL, NULL) == 0 && bytes == 6);
    for (i = 0; i < 200 && RoutineRuns == 0; i++)
        SleepEx(100, TRUE);
    CHECK(RoutineRuns == 1 && RoutineBytes == 6 && RoutineError == 0);
    CHECK(memcmp(buf, "fourth", 6) == 0 && from.sin_port == waddr.sin_port);
    check_pktinfo(&msg);

    /* Completion port: the packet names the record; the results are in place. */
    port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
    CHECK(CreateIoCompletionPort((HANDLE)r, port, 77, 0) == port);
    msg.namelen = sizeof(from);
    msg.Control.len = sizeof(control);
    msg.dwFlags = 0;
    ZeroMemory(&ov, sizeof(ov));
    CHECK(pRecvMsg(r, &msg, &bytes, &ov, NULL) == SOCKET_ERROR && WSAGetLastError() == WSA_IO_PENDING);
    outdata.buf = (char *)"fifth!!";
    outdata.len = 7;
    CHECK(WSASendMsg(w, &out, 0, &bytes, NULL, NULL) == 0);
    CHECK(GetQueuedCompletionStatus(port, &bytes, (PULONG_PTR)&key, &pov, 20000));
    CHECK(pov == &ov && key == 77 && bytes == 7 && memcmp(buf, "fifth!!", 7) == 0);
    check_pktinfo(&msg);

    /* Malformed control data to send: WSAEINVAL. */
    cm->cmsg_len = 4;
    out.Control.buf = outcontrol;
    out.Control.len = 24;
    CHECK(WSASendMsg(w, &out, 0, &bytes, NULL, NULL) == SOCKET_ERROR && WSAGetLastError() == WSAEINVAL);
    CHECK(WSASendMsg(w, NULL, 0, &bytes, NULL, NULL) == SOCKET_ERROR && WSAGetLastError() == WSAEFAULT);
    closesocket(r);
    closesocket(w);

    /* Files. */
    for (i = 0; i < FILE_LEN; i++)
        content[i] = (char)('a' + (i * 7 + i / 13) % 26);
    snprintf(path, sizeof(path), "/tmp/overlapped-messages-%d.bin", (int)GetCurrentProcessId());
    fp = fopen(path, "wb");
    CHECK(fp != NULL && fwrite(content, 1, FILE_LEN, fp) == FILE_LEN);
    fclose(fp);
    CHECK(CreateFileA("/nonexistent/x", GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_EXISTING, 0, NULL) == INVALID_HANDLE_VALUE);
    CHECK(GetLastError() == ERROR_PATH_NOT_FOUND || GetLastError() == ERROR_FILE_NOT_FOUND);
    file = CreateFileA(path, GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_EXISTING,
                       FILE_ATTRIBUTE_NORMAL | FILE_FLAG_SEQUENTIAL_SCAN, NULL);
    CHECK(file != INVALID_HANDLE_VALUE);
    CHECK(GetFileSizeEx(file, &size) && size.QuadPart == FILE_LEN);
    CHECK(GetFileSize(file, &high) == FILE_LEN && high == 0);

    pair(&a, &b);
    pTransmitFile = (LPFN_TRANSMITFILE)extension(a, tf_id);
    pTransmitPackets = (LPFN_TRANSMITPACKETS)extension(a, tp_id);

    /* TransmitFile with a record: from Offset 1000 to the end, with head and tail. */
    ZeroMemory(&ov, sizeof(ov));
    ov.hEvent = ev;
    ov.Offset = 1000;
    tb.Head = (char *)"<head>";
    tb.HeadLength = 6;
    tb.Tail = (char *)"<tail>";
    tb.TailLength = 6;
    if (!pTransmitFile(a, file, 0, 0, &ov, &tb, 0))
        CHECK(WSAGetLastError() == WSA_IO_PENDING);
    read_all(b, got, 6 + FILE_LEN - 1000 + 6);
    CHECK(memcmp(got, "<head>", 6) == 0 && memcmp(got + 6, content + 1000, FILE_LEN - 1000) == 0);
    CHECK(memcmp(got + 6 + FILE_LEN - 1000, "<tail>", 6) == 0);
    CHECK(WSAWaitForMultipleEvents(1, &ev, TRUE, 20000, FALSE) == WSA_WAIT_EVENT_0);
    CHECK(WSAGetOverlappedResult(a, &ov, &bytes, FALSE, &flags) && bytes == 12 + FILE_LEN - 1000);
    WSAResetEvent(ev);

    /* Synchronous: from the file's current position, which advances. */
    pos.QuadPart = 10;
    CHECK(SetFilePointerEx(file, pos, NULL, FILE_BEGIN));
    CHECK(pTransmitFile(a, file, 500, 0, NULL, NULL, 0));
    read_all(b, got, 500);
    CHECK(memcmp(got, content + 10, 500) == 0);
    pos.QuadPart = 0;
    CHECK(SetFilePointerEx(file, pos, &size, FILE_CURRENT) && size.QuadPart == 510);

    /* TransmitPackets through a completion port: memory, a file range, memory (EOP). */
    CHECK(CreateIoCompletionPort((HANDLE)a, port, 5, 0) == port);
    el[0].dwElFlags = TP_ELEMENT_MEMORY;
    el[0].cLength = 4;
    el[0].pBuffer = (char *)"hdr:";
    el[1].dwElFlags = TP_ELEMENT_FILE;
    el[1].cLength = 20;
    el[1].nFileOffset.QuadPart = 5;
    el[1].hFile = file;
    el[2].dwElFlags = TP_ELEMENT_MEMORY | TP_ELEMENT_EOP;
    el[2].cLength = 4;
    el[2].pBuffer = (char *)":end";
    ZeroMemory(&ov, sizeof(ov));
    if (!pTransmitPackets(a, el, 3, 0, &ov, 0))
        CHECK(WSAGetLastError() == WSA_IO_PENDING);
    CHECK(GetQueuedCompletionStatus(port, &bytes, (PULONG_PTR)&key, &pov, 20000));
    CHECK(pov == &ov && key == 5 && bytes == 28);
    read_all(b, got, 28);
    CHECK(memcmp(got, "hdr:", 4) == 0 && memcmp(got + 4, content + 5, 20) == 0 && memcmp(got + 24, ":end", 4) == 0);

    /* The exported names work too; a bad file handle is refused. */
    CHECK(TransmitFile(a, (HANDLE)0x12340, 0, 0, NULL, NULL, 0) == FALSE && WSAGetLastError() == WSA_INVALID_HANDLE);
    el[0].dwElFlags = TP_ELEMENT_MEMORY | TP_ELEMENT_EOP;
    CHECK(TransmitPackets(a, el, 1, 0, NULL, 0));
    read_all(b, got, 4);
    CHECK(memcmp(got, "hdr:", 4) == 0);

    CHECK(CloseHandle(file));
    CHECK(GetFileSizeEx(file, &size) == FALSE && GetLastError() == ERROR_INVALID_HANDLE);
    remove(path);
    closesocket(a);
    closesocket(b);
    CloseHandle(port);
    WSACloseEvent(ev);
    CHECK(WSACleanup() == 0);
    printf("ok %d checks\n", checks);
    return 0;
}
