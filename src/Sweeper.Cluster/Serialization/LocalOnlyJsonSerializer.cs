using System.Runtime.Serialization;
using System.Security.Cryptography;
using Akka.Actor;
using Akka.Configuration;
using Akka.Event;
using Akka.Serialization;

namespace Sweeper.Cluster.Serialization;

/// <summary>
/// Takes the place of Akka's default JSON serializer (Newtonsoft.Json, identifier 1, bound to <c>System.Object</c>) so
/// that nothing arriving from the network is ever deserialized by it: Newtonsoft with type names instantiates whatever
/// type a payload names. Only bytes this very process wrote are read back — they carry an HMAC under a key drawn at
/// random when the process starts — which keeps Akka's in-process checks (<c>akka.actor.serialize-messages</c>)
/// working. A payload from another node under identifier 1 is refused and logged; messages between nodes go through
/// <see cref="SweeperMessageSerializer"/> and Akka's own protobuf serializers.
/// </summary>
public sealed class LocalOnlyJsonSerializer : Serializer
{
    /// <summary>The identifier of Akka's Newtonsoft serializer, which this one replaces.</summary>
    public const int Id = 1;

    private const int TagLength = 32; // HMAC-SHA256
    private static readonly byte[] Key = RandomNumberGenerator.GetBytes(32);

    private readonly NewtonSoftJsonSerializer _json;
    private ILoggingAdapter? _log; // created on first use: the actor system is not ready while serializers are built

    public LocalOnlyJsonSerializer(ExtendedActorSystem system) : this(system, new NewtonSoftJsonSerializer(system)) { }

    /// <summary>The constructor Akka calls for the <c>json</c> slot, with <c>akka.actor.serialization-settings.json</c>.</summary>
    public LocalOnlyJsonSerializer(ExtendedActorSystem system, Config config) : this(system, new NewtonSoftJsonSerializer(system, config)) { }

    private LocalOnlyJsonSerializer(ExtendedActorSystem system, NewtonSoftJsonSerializer json) : base(system)
    {
        _json = json;
    }

    private ILoggingAdapter Log => _log ??= Logging.GetLogger(system, typeof(LocalOnlyJsonSerializer));

    public override int Identifier => Id;

    public override bool IncludeManifest => _json.IncludeManifest;

    public override byte[] ToBinary(object obj)
    {
        var payload = _json.ToBinary(obj);
        var bytes = new byte[TagLength + payload.Length];
        HMACSHA256.HashData(Key, payload, bytes.AsSpan(0, TagLength));
        payload.CopyTo(bytes, TagLength);
        return bytes;
    }

    public override object FromBinary(byte[] bytes, Type type)
    {
        if (!WrittenHere(bytes))
        {
            Log.Error("Refused a JSON (Newtonsoft) payload of {0} bytes for type {1} not written by this process: messages between nodes must use Sweeper's serializer ({2}) or Akka's own", bytes.Length, type?.FullName ?? "(none)", SweeperMessageSerializer.Id);
            throw new SerializationException($"refused: a JSON payload (serializer {Id}) that this process did not write; only Sweeper's serializer ({SweeperMessageSerializer.Id}) and Akka's own serializers accept messages from other nodes");
        }
        return _json.FromBinary(bytes[TagLength..], type);
    }

    private static bool WrittenHere(byte[] bytes)
    {
        if (bytes is null || bytes.Length < TagLength) return false;
        Span<byte> expected = stackalloc byte[TagLength];
        HMACSHA256.HashData(Key, bytes.AsSpan(TagLength), expected);
        return CryptographicOperations.FixedTimeEquals(expected, bytes.AsSpan(0, TagLength));
    }
}
