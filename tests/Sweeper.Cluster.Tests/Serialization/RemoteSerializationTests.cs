using System.Runtime.Serialization;
using Akka.Serialization;
using Akka.Util;
using Akka.TestKit.Xunit2;
using Sweeper.Cluster.Messages;
using Sweeper.Cluster.Serialization;

namespace Sweeper.Cluster.Tests.Serialization;

/// <summary>
/// Only Sweeper's serializer (and Akka's own) can be reached by a message from another node: Akka's default Newtonsoft
/// serializer (identifier 1) is replaced by one that reads back only what this process wrote.
/// </summary>
public sealed class RemoteSerializationTests() : TestKit(SweeperMessageSerializer.Hocon)
{
    public sealed record Anything(string Text, int Number);

    [Fact]
    public void Hocon_DefaultJsonSerializer_ReplacedSweeperMessagesGoToSweepers()
    {
        Assert.IsType<LocalOnlyJsonSerializer>(Sys.Serialization.FindSerializerForType(typeof(object)));
        Assert.IsType<LocalOnlyJsonSerializer>(Sys.Serialization.FindSerializerForType(typeof(Anything)));
        Assert.IsType<SweeperMessageSerializer>(Sys.Serialization.FindSerializerFor(new SweepQueries.CancelSweep("x")));
        Assert.DoesNotContain(Sys.Settings.Config.GetConfig("akka.actor.serializers").AsEnumerable(),
            e => e.Value.GetString().Contains("NewtonSoftJsonSerializer", StringComparison.Ordinal));
    }

    [Fact]
    public void Deserialize_NewtonsoftPayloadFromAnotherNode_RefusedAndLogged()
    {
        // What another process's Newtonsoft serializer writes (with type names): the way in for a gadget.
        var foreign = new NewtonSoftJsonSerializer((Akka.Actor.ExtendedActorSystem)Sys).ToBinary(new Anything("x", 1));
        var manifest = typeof(Anything).TypeQualifiedName();

        EventFilter.Error(contains: "Refused a JSON (Newtonsoft) payload").ExpectOne(() =>
            Assert.Throws<SerializationException>(() => Sys.Serialization.Deserialize(foreign, LocalOnlyJsonSerializer.Id, manifest)));
    }

    [Fact]
    public void Deserialize_PayloadWithForgedTag_Refused()
    {
        var bytes = Sys.Serialization.FindSerializerForType(typeof(Anything)).ToBinary(new Anything("x", 1));
        bytes[^2] ^= 1; // the JSON changed after it was signed

        EventFilter.Error(contains: "Refused").ExpectOne(() =>
            Assert.Throws<SerializationException>(() => Sys.Serialization.Deserialize(bytes, LocalOnlyJsonSerializer.Id, typeof(Anything).TypeQualifiedName())));
    }

    [Fact]
    public void RoundTrip_InThisProcess_StillWorks()
    {
        // akka.actor.serialize-messages checks local messages this way.
        var serializer = Sys.Serialization.FindSerializerForType(typeof(Anything));
        var back = Sys.Serialization.Deserialize(serializer.ToBinary(new Anything("x", 1)), serializer.Identifier, typeof(Anything).TypeQualifiedName());

        Assert.Equal(new Anything("x", 1), back);
    }

    [Fact]
    public void Deserialize_UnknownSweeperManifest_RefusedAndLogged()
    {
        EventFilter.Error(contains: "unknown manifest").ExpectOne(() =>
            Assert.Throws<SerializationException>(() => Sys.Serialization.Deserialize([], SweeperMessageSerializer.Id, "System.Diagnostics.Process")));
    }

    [Fact]
    public void Deserialize_MalformedSweeperPayload_RefusedAndLogged()
    {
        EventFilter.Error(contains: "malformed 'cancel-sweep'").ExpectOne(() =>
            Assert.Throws<SerializationException>(() => Sys.Serialization.Deserialize("{\"Reason\":"u8.ToArray(), SweeperMessageSerializer.Id, "cancel-sweep")));
    }
}
